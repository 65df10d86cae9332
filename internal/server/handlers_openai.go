package server

import (
	"fmt"
	"net/http"
	"strings"
)

// An embedQuery is a decoded /v1/embeddings or /embed request: the table and
// its inputs, as token ids (texts are encoded with the table's tokenizer
// once the table is acquired).
type embedQuery struct {
	table     string
	batch     *batch
	enc       encoding
	dims      *int64
	normalize bool
}

// decodeOpenAI decodes a /v1/embeddings body.
func decodeOpenAI(body []byte, lim batchLimits) (*embedQuery, *apiError) {
	var req openAIRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	if req.Model == nil || *req.Model == "" {
		return nil, badRequest("model", "model: missing; name the table to use")
	}
	if !present(req.Input) {
		return nil, badRequest("input", "input: missing; want a string, an array of strings, an array of token ids or an array of arrays of token ids")
	}
	q := &embedQuery{table: *req.Model, dims: req.Dimensions}
	var err *apiError
	if q.enc, err = parseEncoding(req.EncodingFormat, "encoding_format"); err != nil {
		return nil, err
	}
	if q.dims != nil && *q.dims < 1 {
		return nil, badRequest("dimensions", "dimensions: %d; want at least 1", *q.dims)
	}
	lim.allowText, lim.allowNested = true, true
	if q.batch, err = parseBatch(req.Input, "input", lim); err != nil {
		return nil, err
	}
	return q, nil
}

// encodeTexts turns a batch of texts into ids with the table's tokenizer,
// or says that the table has none.
func (s *Server) encodeTexts(q *embedQuery, sv *served, t Table, field string, lim batchLimits) *apiError {
	b := q.batch
	if b.texts == nil {
		return nil
	}
	enc, err := s.encoder(sv, t)
	switch {
	case err != nil:
		return errorf(http.StatusInternalServerError, field, "bad_tokenizer", "table %s: its tokenizer cannot be used: %s", q.table, trimPrefix(err.Error()))
	case enc == nil && !isLocal(t):
		return errorf(lim.status422(), field, "no_tokenizer", "table %s is served from a cluster's shards, which are not tokenized here: %s holds text; send token ids, or send text to a server of the table file (embquery serve)", q.table, field)
	case enc == nil:
		return errorf(lim.status422(), field, "no_tokenizer", "table %s has no tokenizer: %s holds text; send token ids instead", q.table, field)
	}
	if msg := partialShard(sv, t); msg != "" {
		return errorf(lim.status422(), field, "shard_text", "table %s is %s: the ids its tokenizer gives are the whole table's, its rows only a range of them; %s holds text: send it to a server of the whole table", q.table, msg, field)
	}
	b.starts = make([]int64, 0, len(b.texts))
	for _, text := range b.texts {
		b.starts = append(b.starts, int64(len(b.ids)))
		b.ids = enc.Encode(b.ids, text, true)
		if len(b.ids) > lim.maxTokens {
			return errorf(lim.status, field, "too_many_tokens", "%s: the texts make more than %d tokens (the limit)", field, lim.maxTokens)
		}
	}
	b.texts = nil
	return nil
}

// status422 is the status of an input the server cannot process: 400 for
// OpenAI's routes, 422 for TEI's.
func (l batchLimits) status422() int {
	if l.status == http.StatusRequestEntityTooLarge {
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadRequest
}

// isLocal says whether t is a table file mapped here.
func isLocal(t Table) bool { _, ok := t.(*localTable); return ok }

// embeddings answers POST /v1/embeddings: one vector per input, its tokens'
// rows pooled as the table's metadata says (by default the mean: embquery
// bag --mode mean), as OpenAI answers it.
func (s *Server) embeddings(w *reply, r *http.Request) *apiError {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	defer putBytes(body)
	lim := s.limits(http.StatusBadRequest)
	q, err := decodeOpenAI(*body, lim)
	if err != nil {
		return err
	}
	sv, t, release, err := s.acquire(q.table, "model", familyOpenAI)
	if err != nil {
		return err
	}
	defer release()
	if q.dims != nil && *q.dims != int64(t.Dim()) {
		return badRequest("dimensions", "dimensions: %d; table %s has %d dimensions and does not shorten them", *q.dims, q.table, t.Dim())
	}
	if err := s.encodeTexts(q, sv, t, "input", lim); err != nil {
		return err
	}
	if err := checkNonEmpty(q.batch, "input", http.StatusBadRequest); err != nil {
		return err
	}
	pool, err := s.poolingOf(sv, t)
	if err != nil {
		return err
	}
	resp := newResponse(w, ctypeJSON)
	rw := &rowWriter{resp: resp, enc: q.enc, dim: t.Dim(),
		head: func(b []byte) []byte { return append(b, `{"object":"list","data":[`...) },
		prefix: func(b []byte, i int) []byte {
			b = append(b, `{"object":"embedding","index":`...)
			b = appendInt(b, int64(i))
			return append(b, `,"embedding":`...)
		},
		suffix: "}",
		after: func(b []byte) []byte {
			b = append(b, `],"model":`...)
			b = appendJSONString(b, sv.name)
			b = append(b, `,"usage":{"prompt_tokens":`...)
			b = appendInt(b, int64(len(q.batch.ids)))
			b = append(b, `,"total_tokens":`...)
			b = appendInt(b, int64(len(q.batch.ids)))
			return append(b, "}}\n"...)
		},
	}
	if err := poolRows(r, t, q.batch, "input", pool, rw.emit); err != nil {
		resp.release()
		return err
	}
	rw.end()
	resp.finish()
	w.inputs = len(q.batch.starts)
	s.metrics.rows.WithLabelValues(sv.name).Add(float64(len(q.batch.ids)))
	return nil
}

// models answers GET /v1/models: every table, as OpenAI lists models.
func (s *Server) models(w *reply, r *http.Request) *apiError {
	b := []byte(`{"object":"list","data":[`)
	for i, name := range s.tables.names() {
		sv := s.tables.get(name)
		if sv == nil {
			continue
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendModel(b, sv)
	}
	writeJSONBody(w, append(b, "]}\n"...))
	return nil
}

// model answers GET /v1/models/NAME.
func (s *Server) model(w *reply, r *http.Request) *apiError {
	name := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	sv, _, release, err := s.acquire(name, "model", familyOpenAI)
	if err != nil {
		return err
	}
	release()
	writeJSONBody(w, append(s.appendModel(nil, sv), '\n'))
	return nil
}

// appendModel appends an OpenAI model object for a table, with how
// /v1/embeddings pools it.
func (s *Server) appendModel(b []byte, sv *served) []byte {
	info := s.describe(sv)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, sv.name)
	b = append(b, fmt.Sprintf(`,"object":"model","created":%d,"owned_by":"embstore","dim":%d,"rows":%d,"pooling":%q,"normalize":%t,"tokenizer":%t}`,
		info.LoadedAt.Unix(), info.Dim, info.Rows, info.Pooling, info.Normalize, info.Tokenizer)...)
	return b
}
