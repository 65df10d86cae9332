package server

import (
	"net/http"
	"strconv"
)

// The TEI routes have no table field: they use the table named by the query
// parameter model, or the server's default table (the first one given).
func (s *Server) teiTable(r *http.Request) string {
	if m := r.URL.Query().Get("model"); m != "" {
		return m
	}
	return s.tables.defaultName()
}

// decodeTEI decodes an /embed or /embed_all body.
func decodeTEI(body []byte, lim batchLimits) (*embedQuery, *apiError) {
	var req teiRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, teiStatus(err)
	}
	if !present(req.Inputs) {
		return nil, errorf(http.StatusUnprocessableEntity, "inputs", "", "inputs: missing; want a string, an array of strings, an array of token ids or an array of arrays of token ids")
	}
	if req.PromptName != nil {
		return nil, errorf(http.StatusUnprocessableEntity, "prompt_name", "", "prompt_name %s: tables have no prompts", strconv.Quote(*req.PromptName))
	}
	if d := req.TruncationDirection; d != nil && *d != "Right" && *d != "Left" && *d != "right" && *d != "left" {
		return nil, errorf(http.StatusUnprocessableEntity, "truncation_direction", "", "truncation_direction: %s; want \"Right\" or \"Left\"", strconv.Quote(*d))
	}
	q := &embedQuery{dims: req.Dimensions, normalize: true, enc: encFloat}
	if req.Normalize != nil {
		q.normalize = *req.Normalize
	}
	if q.dims != nil && *q.dims < 1 {
		return nil, errorf(http.StatusUnprocessableEntity, "dimensions", "", "dimensions: %d; want at least 1", *q.dims)
	}
	lim.allowText, lim.allowNested = true, true
	b, err := parseBatch(req.Inputs, "inputs", lim)
	if err != nil {
		return nil, teiStatus(err)
	}
	q.batch = b
	return q, nil
}

// teiStatus maps a 400 to TEI's 422 for input errors.
func teiStatus(e *apiError) *apiError {
	if e.status == http.StatusBadRequest {
		e.status = http.StatusUnprocessableEntity
	}
	return e
}

// teiPrepare decodes a TEI request and acquires its table.
func (s *Server) teiPrepare(w *reply, r *http.Request) (*embedQuery, *served, Table, func(), *apiError) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer putBytes(body)
	lim := s.limits(http.StatusRequestEntityTooLarge)
	q, err := decodeTEI(*body, lim)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	q.table = s.teiTable(r)
	sv, t, release, err := s.acquire(q.table, "model", familyTEI)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if q.dims != nil && *q.dims != int64(t.Dim()) {
		release()
		return nil, nil, nil, nil, errorf(http.StatusUnprocessableEntity, "dimensions", "", "dimensions: %d; table %s has %d dimensions and does not shorten them", *q.dims, q.table, t.Dim())
	}
	if err := s.encodeTexts(q, sv, t, "inputs", lim); err != nil {
		release()
		return nil, nil, nil, nil, err
	}
	return q, sv, t, release, nil
}

// teiEmbed answers POST /embed: one vector per input, its tokens' rows
// pooled with the table's default pooling mode (by default the mean),
// L2-normalised unless normalize is false (TEI's default is true; the
// request decides, not the table's metadata).
func (s *Server) teiEmbed(w *reply, r *http.Request) *apiError {
	q, sv, t, release, err := s.teiPrepare(w, r)
	if err != nil {
		return err
	}
	defer release()
	if err := checkNonEmpty(q.batch, "inputs", http.StatusUnprocessableEntity); err != nil {
		return err
	}
	pool, err := s.poolingOf(sv, t)
	if err != nil {
		return err
	}
	pool.Normalize = q.normalize
	resp := newResponse(w, ctypeJSON)
	rw := &rowWriter{resp: resp, enc: encFloat, dim: t.Dim(),
		head:  func(b []byte) []byte { return append(b, '[') },
		after: func(b []byte) []byte { return append(b, "]\n"...) },
	}
	if err := poolRows(r, t, q.batch, "inputs", pool, rw.emit); err != nil {
		resp.release()
		return teiStatus(err)
	}
	rw.end()
	resp.finish()
	w.inputs = len(q.batch.starts)
	s.metrics.rows.WithLabelValues(sv.name).Add(float64(len(q.batch.ids)))
	return nil
}

// teiEmbedAll answers POST /embed_all: every token's row, one array of rows
// per input.
func (s *Server) teiEmbedAll(w *reply, r *http.Request) *apiError {
	q, sv, t, release, err := s.teiPrepare(w, r)
	if err != nil {
		return err
	}
	defer release()
	b := q.batch
	b.nested = true // TEI nests the rows per input even for one input
	lq := &lookupQuery{table: q.table, ids: b, section: "tokens"}
	resp := newResponse(w, ctypeJSON)
	rw := &rowWriter{resp: resp, enc: encFloat, dim: t.Dim(), groups: b.starts,
		head:  func(b []byte) []byte { return append(b, '[') },
		after: func(b []byte) []byte { return append(b, "]\n"...) },
	}
	if err := lookupRows(r.Context(), t, lq, rw.emit); err != nil {
		resp.release()
		return teiStatus(err)
	}
	rw.end()
	resp.finish()
	w.inputs = len(b.starts)
	s.metrics.rows.WithLabelValues(sv.name).Add(float64(len(b.ids)))
	return nil
}

// teiInfo answers GET /info with TEI's fields, for the default table (or
// ?model=NAME), and embstore's own.
func (s *Server) teiInfo(w *reply, r *http.Request) *apiError {
	name := s.teiTable(r)
	sv, t, release, err := s.acquire(name, "model", familyTEI)
	if err != nil {
		return err
	}
	defer release()
	pool, perr := s.poolingOf(sv, t)
	if perr != nil {
		return perr
	}
	info := map[string]any{
		"model_id":                sv.name,
		"model_sha":               nil,
		"model_dtype":             "float32",
		"model_type":              map[string]any{"embedding": map[string]any{"pooling": teiPoolingName(pool.Mode)}},
		"max_concurrent_requests": s.cfg.MaxConcurrent,
		"max_input_length":        s.cfg.MaxTokens,
		"max_batch_tokens":        s.cfg.MaxTokens,
		"max_batch_requests":      nil,
		"max_client_batch_size":   s.cfg.MaxInputs,
		"auto_truncate":           false,
		"tokenization_workers":    nil,
		"version":                 s.cfg.Version,
		"sha":                     nil,
		"docker_label":            nil,
		// embstore's own
		"normalize_default": true,
		"max_body_bytes":    s.cfg.MaxBody,
		"tables":            s.tables.names(),
		"table":             s.infoOf(sv, t),
	}
	return writeJSON(w, info)
}
