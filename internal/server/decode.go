package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/embstore/embstore/store"
)

// decodeJSON decodes a JSON object body into dst, refusing unknown fields
// and anything after the object, and names the field at fault in errors.
func decodeJSON(body []byte, dst any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "empty request body; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			return badRequest("", "unexpected data after the JSON object")
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("", "request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badRequest("", "request body: want a JSON object, got %s", typ.Value)
		}
		return badRequest(field, "%s: want %s, got %s", field, jsonTypeName(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "request body is not valid JSON: it ends in the middle of a value")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field, _ := strconv.Unquote(name)
		return badRequest(field, "unknown field %s", name)
	}
	return badRequest("", "request body: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonTypeName(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int64", "int":
		return "an integer"
	}
	return goType
}

// present reports whether a raw field was given and is not null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// parseEncoding returns the row encoding named by an encoding_format field.
func parseEncoding(v *string, field string) (encoding, *apiError) {
	if v == nil {
		return encFloat, nil
	}
	switch *v {
	case "float":
		return encFloat, nil
	case "base64":
		return encBase64, nil
	}
	return 0, badRequest(field, "%s: %s; want \"float\" or \"base64\"", field, strconv.Quote(*v))
}

// acceptEncoding returns the binary encoding the Accept header asks for, or
// def.
func acceptEncoding(r *http.Request, def encoding) encoding {
	a := r.Header.Get("Accept")
	switch {
	case a == "":
		return def
	case strings.Contains(a, ctypeOctet):
		return encRaw
	case strings.Contains(a, ctypeNpy):
		return encNpy
	}
	return def
}

// isBinary reports whether the request body is binary ids.
func isBinary(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return ct == ctypeOctet || strings.HasPrefix(ct, ctypeOctet+";")
}

// openAIRequest is the body of POST /v1/embeddings.
type openAIRequest struct {
	Model          *string         `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int64          `json:"dimensions"`
	User           *string         `json:"user"`
}

// teiRequest is the body of POST /embed and /embed_all.
type teiRequest struct {
	Inputs              json.RawMessage `json:"inputs"`
	Normalize           *bool           `json:"normalize"`
	Truncate            *bool           `json:"truncate"`
	TruncationDirection *string         `json:"truncation_direction"`
	PromptName          *string         `json:"prompt_name"`
	Dimensions          *int64          `json:"dimensions"`
}

// lookupRequest is the JSON body of POST /v1/lookup.
type lookupRequest struct {
	Table          string          `json:"table"`
	IDs            json.RawMessage `json:"ids"`
	Positions      bool            `json:"positions"`
	Start          int64           `json:"start"`
	SeqLen         *int64          `json:"seq_len"`
	Section        *string         `json:"section"`
	EncodingFormat *string         `json:"encoding_format"`
}

// bagRequest is the JSON body of POST /v1/bag.
type bagRequest struct {
	Table             string          `json:"table"`
	IDs               json.RawMessage `json:"ids"`
	Offsets           json.RawMessage `json:"offsets"`
	BagSize           *int64          `json:"bag_size"`
	Mode              *string         `json:"mode"`
	PerSampleWeights  json.RawMessage `json:"per_sample_weights"`
	PaddingIdx        *int64          `json:"padding_idx"`
	IncludeLastOffset bool            `json:"include_last_offset"`
	EncodingFormat    *string         `json:"encoding_format"`
}

// A lookupQuery is a decoded /v1/lookup request, JSON or binary.
type lookupQuery struct {
	table     string
	ids       *batch
	positions bool
	start     int64
	seqLen    int64 // 0: each array (or the whole flat list) is one sequence
	section   string
	enc       encoding
	pooled    *[]int64 // ids' backing array, from idPool, for binary bodies
}

func parseSection(v *string) (string, *apiError) {
	if v == nil || *v == "tokens" {
		return "tokens", nil
	}
	if *v == "positions" {
		return "positions", nil
	}
	return "", badRequest("section", "section: %s; want \"tokens\" or \"positions\"", strconv.Quote(*v))
}

// decodeLookupJSON decodes a JSON /v1/lookup body.
func decodeLookupJSON(body []byte, lim batchLimits) (*lookupQuery, *apiError) {
	var req lookupRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	q := &lookupQuery{table: req.Table, positions: req.Positions, start: req.Start}
	if !present(req.IDs) {
		return nil, badRequest("ids", "ids: missing; want an array of token ids or an array of arrays of token ids")
	}
	var err *apiError
	if q.section, err = parseSection(req.Section); err != nil {
		return nil, err
	}
	if q.enc, err = parseEncoding(req.EncodingFormat, "encoding_format"); err != nil {
		return nil, err
	}
	if req.SeqLen != nil {
		q.seqLen = *req.SeqLen
	}
	if err := q.checkArgs(req.SeqLen != nil, req.Start != 0); err != nil {
		return nil, err
	}
	lim.allowText, lim.allowNested = false, true
	if q.ids, err = parseBatch(req.IDs, "ids", lim); err != nil {
		return nil, err
	}
	if q.seqLen > 0 && q.ids.nested {
		return nil, badRequest("seq_len", "seq_len: give sequences as arrays of ids or seq_len with a flat array, not both")
	}
	return q, nil
}

// checkArgs checks the options that do not depend on the ids.
func (q *lookupQuery) checkArgs(hasSeqLen, hasStart bool) *apiError {
	switch {
	case q.section == "positions" && q.positions:
		return badRequest("positions", "positions: true adds positions to token rows; it does not apply to section \"positions\"")
	case !q.positions && (hasSeqLen || hasStart):
		return badRequest("positions", "start and seq_len apply only with positions: true")
	case hasSeqLen && q.seqLen < 1:
		return badRequest("seq_len", "seq_len: %d; want a positive sequence length", q.seqLen)
	case q.start < 0:
		return badRequest("start", "start: %d; positions are not negative", q.start)
	}
	return nil
}

// decodeLookupBinary decodes a binary /v1/lookup request: little-endian
// int64 ids in the body, the options in the query string.
func decodeLookupBinary(body []byte, query string, lim batchLimits) (*lookupQuery, *apiError) {
	v, perr := url.ParseQuery(query)
	if perr != nil {
		return nil, badRequest("", "query string: %v", perr)
	}
	q := &lookupQuery{table: v.Get("table"), enc: encFloat}
	for key := range v {
		switch key {
		case "table", "positions", "start", "seq_len", "section", "encoding_format":
		default:
			return nil, badRequest(key, "unknown query parameter %s", strconv.Quote(key))
		}
	}
	var err *apiError
	if q.positions, err = queryBool(v, "positions"); err != nil {
		return nil, err
	}
	if q.start, err = queryInt(v, "start"); err != nil {
		return nil, err
	}
	if q.seqLen, err = queryInt(v, "seq_len"); err != nil {
		return nil, err
	}
	if v.Has("section") {
		s := v.Get("section")
		if q.section, err = parseSection(&s); err != nil {
			return nil, err
		}
	} else {
		q.section = "tokens"
	}
	if v.Has("encoding_format") {
		s := v.Get("encoding_format")
		if q.enc, err = parseEncoding(&s, "encoding_format"); err != nil {
			return nil, err
		}
	}
	if err := q.checkArgs(v.Has("seq_len"), v.Has("start")); err != nil {
		return nil, err
	}
	ids, pooled, err := binaryIDs(body, "body", lim)
	if err != nil {
		return nil, err
	}
	q.ids = &batch{ids: ids, starts: []int64{0}}
	q.pooled = pooled
	return q, nil
}

// binaryIDs decodes little-endian int64 ids into a pooled slice.
func binaryIDs(body []byte, field string, lim batchLimits) ([]int64, *[]int64, *apiError) {
	if len(body)%8 != 0 {
		return nil, nil, badRequest(field, "%s: %d bytes is not a whole number of little-endian int64 ids", field, len(body))
	}
	n := len(body) / 8
	if n == 0 {
		return nil, nil, badRequest(field, "%s: no ids", field)
	}
	if n > lim.maxTokens {
		return nil, nil, errorf(lim.status, field, "too_many_tokens", "%s: %d ids in one request; the limit is %d", field, n, lim.maxTokens)
	}
	p := getIDs(n)
	ids := *p
	for i := range ids {
		ids[i] = int64(binary.LittleEndian.Uint64(body[8*i:]))
	}
	return ids, p, nil
}

func queryBool(v url.Values, key string) (bool, *apiError) {
	if !v.Has(key) {
		return false, nil
	}
	switch s := v.Get(key); s {
	case "", "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	default:
		return false, badRequest(key, "%s: %s; want true or false", key, strconv.Quote(s))
	}
}

func queryInt(v url.Values, key string) (int64, *apiError) {
	if !v.Has(key) {
		return 0, nil
	}
	s := v.Get(key)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badRequest(key, "%s: %s is not an integer", key, strconv.Quote(quoteShort(s)))
	}
	return n, nil
}

// A bagQuery is a decoded /v1/bag request, normalised: bags are given by
// offsets (without the include-last one), ids end where the last bag ends.
type bagQuery struct {
	table   string
	ids     []int64
	offsets []int64
	opts    store.BagOptions
	enc     encoding
	param   func(k int) string // names id k in errors
}

func parseMode(s string) (store.BagMode, *apiError) {
	switch s {
	case "sum":
		return store.BagSum, nil
	case "mean":
		return store.BagMean, nil
	case "max":
		return store.BagMax, nil
	}
	return 0, badRequest("mode", "mode: %s; want \"sum\", \"mean\" or \"max\"", strconv.Quote(s))
}

// decodeBagJSON decodes a JSON /v1/bag body.
func decodeBagJSON(body []byte, lim batchLimits) (*bagQuery, *apiError) {
	var req bagRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	q := &bagQuery{table: req.Table}
	var err *apiError
	mode := "mean"
	if req.Mode != nil {
		mode = *req.Mode
	}
	if q.opts.Mode, err = parseMode(mode); err != nil {
		return nil, err
	}
	if q.enc, err = parseEncoding(req.EncodingFormat, "encoding_format"); err != nil {
		return nil, err
	}
	if !present(req.IDs) {
		return nil, badRequest("ids", "ids: missing; want an array of token ids or an array of bags (arrays of ids)")
	}
	lim.allowText, lim.allowNested = false, true
	b, err := parseBatch(req.IDs, "ids", lim)
	if err != nil {
		return nil, err
	}
	q.ids = b.ids
	q.param = func(k int) string { return b.paramOf("ids", k) }
	var offsets []int64
	switch {
	case b.nested && (present(req.Offsets) || req.BagSize != nil || req.IncludeLastOffset):
		return nil, badRequest("ids", "ids: an array of bags takes no offsets, bag_size or include_last_offset")
	case b.nested:
		offsets = b.starts
	case present(req.Offsets) && req.BagSize != nil:
		return nil, badRequest("offsets", "give offsets or bag_size, not both")
	case present(req.Offsets):
		ob, err := parseBatch(req.Offsets, "offsets", batchLimits{maxInputs: lim.maxInputs, maxTokens: lim.maxInputs + 1, status: lim.status})
		if err != nil {
			return nil, err
		}
		offsets = ob.ids
	case req.BagSize != nil:
		k := *req.BagSize
		if k < 1 {
			return nil, badRequest("bag_size", "bag_size: %d; want a positive size", k)
		}
		if int64(len(q.ids))%k != 0 {
			return nil, badRequest("bag_size", "bag_size: %d ids are not a whole number of bags of %d", len(q.ids), k)
		}
		if int64(len(q.ids))/k > int64(lim.maxInputs) {
			return nil, errorf(lim.status, "bag_size", "too_many_inputs", "bag_size: %d bags of %d; the limit is %d bags", int64(len(q.ids))/k, k, lim.maxInputs)
		}
		for o := int64(0); o < int64(len(q.ids)); o += k {
			offsets = append(offsets, o)
		}
	default:
		offsets = []int64{0}
	}
	if req.IncludeLastOffset && !present(req.Offsets) {
		return nil, badRequest("include_last_offset", "include_last_offset applies to offsets")
	}
	if present(req.PerSampleWeights) {
		w, err := parseFloats(req.PerSampleWeights, "per_sample_weights", lim.maxTokens)
		if err != nil {
			return nil, err
		}
		q.opts.PerSampleWeights = w
	}
	if req.PaddingIdx != nil {
		q.opts.PaddingIdx = req.PaddingIdx
	}
	if err := q.normalise(offsets, req.IncludeLastOffset); err != nil {
		return nil, err
	}
	return q, nil
}

// decodeBagBinary decodes a binary /v1/bag request. The body holds n ids
// (little-endian int64), then m offsets (int64, m from the query parameter
// offsets=M, 0 by default), then, with weights=true, n float32 weights; the
// other options are query parameters named as in the JSON body.
func decodeBagBinary(body []byte, query string, lim batchLimits) (*bagQuery, *apiError) {
	v, perr := url.ParseQuery(query)
	if perr != nil {
		return nil, badRequest("", "query string: %v", perr)
	}
	for key := range v {
		switch key {
		case "table", "mode", "offsets", "bag_size", "weights", "padding_idx", "include_last_offset", "encoding_format":
		default:
			return nil, badRequest(key, "unknown query parameter %s", strconv.Quote(key))
		}
	}
	q := &bagQuery{table: v.Get("table"), param: func(k int) string { return fmt.Sprintf("ids[%d]", k) }}
	var err *apiError
	mode := "mean"
	if v.Has("mode") {
		mode = v.Get("mode")
	}
	if q.opts.Mode, err = parseMode(mode); err != nil {
		return nil, err
	}
	if v.Has("encoding_format") {
		s := v.Get("encoding_format")
		if q.enc, err = parseEncoding(&s, "encoding_format"); err != nil {
			return nil, err
		}
	}
	m, err := queryInt(v, "offsets")
	if err != nil {
		return nil, err
	}
	bagSize, err := queryInt(v, "bag_size")
	if err != nil {
		return nil, err
	}
	weights, err := queryBool(v, "weights")
	if err != nil {
		return nil, err
	}
	includeLast, err := queryBool(v, "include_last_offset")
	if err != nil {
		return nil, err
	}
	switch {
	case m < 0 || m > int64(lim.maxInputs)+1:
		return nil, badRequest("offsets", "offsets: %d; want 0 to %d offsets", m, lim.maxInputs+1)
	case m > 0 && v.Has("bag_size"):
		return nil, badRequest("offsets", "give offsets or bag_size, not both")
	case includeLast && m == 0:
		return nil, badRequest("include_last_offset", "include_last_offset applies to offsets")
	}
	per := int64(8)
	if weights {
		per = 12
	}
	rest := int64(len(body)) - 8*m
	if rest <= 0 || rest%per != 0 {
		return nil, badRequest("body", "body: %d bytes do not hold n int64 ids, %d int64 offsets and %s", len(body), m,
			map[bool]string{true: "n float32 weights", false: "no weights"}[weights])
	}
	n := rest / per
	if n > int64(lim.maxTokens) {
		return nil, errorf(lim.status, "body", "too_many_tokens", "body: %d ids in one request; the limit is %d", n, lim.maxTokens)
	}
	q.ids = make([]int64, n)
	for i := range q.ids {
		q.ids[i] = int64(binary.LittleEndian.Uint64(body[8*i:]))
	}
	var offsets []int64
	if m > 0 {
		offsets = make([]int64, m)
		for i := range offsets {
			offsets[i] = int64(binary.LittleEndian.Uint64(body[8*(n+int64(i)):]))
		}
	} else if v.Has("bag_size") {
		if bagSize < 1 || n%bagSize != 0 || n/bagSize > int64(lim.maxInputs) {
			return nil, badRequest("bag_size", "bag_size: %d; want a positive size that divides the %d ids into at most %d bags", bagSize, n, lim.maxInputs)
		}
		for o := int64(0); o < n; o += bagSize {
			offsets = append(offsets, o)
		}
	} else {
		offsets = []int64{0}
	}
	if weights {
		base := 8 * (n + m)
		w := make([]float32, n)
		for i := range w {
			w[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[base+4*int64(i):]))
			if f := float64(w[i]); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, badRequest(fmt.Sprintf("weights[%d]", i), "weights[%d]: %v; weights must be finite", i, w[i])
			}
		}
		q.opts.PerSampleWeights = w
	}
	if v.Has("padding_idx") {
		p, err := queryInt(v, "padding_idx")
		if err != nil {
			return nil, err
		}
		q.opts.PaddingIdx = &p
	}
	if err := q.normalise(offsets, includeLast); err != nil {
		return nil, err
	}
	return q, nil
}

// normalise checks offsets and weights and folds include_last_offset into
// the ids, so that the bags can be computed in independent chunks.
func (q *bagQuery) normalise(offsets []int64, includeLast bool) *apiError {
	n := int64(len(q.ids))
	if includeLast {
		if len(offsets) == 0 {
			return badRequest("offsets", "offsets: include_last_offset needs at least one offset")
		}
		last := offsets[len(offsets)-1]
		offsets = offsets[:len(offsets)-1]
		if last < 0 || last > n || (len(offsets) > 0 && last < offsets[len(offsets)-1]) {
			return badRequest(fmt.Sprintf("offsets[%d]", len(offsets)), "offsets[%d]: %d; the last offset must lie between the one before it and the %d ids", len(offsets), last, n)
		}
		q.ids = q.ids[:last]
		if w := q.opts.PerSampleWeights; w != nil && int64(len(w)) >= last {
			q.opts.PerSampleWeights = w[:last]
		}
		n = last
	}
	for i, o := range offsets {
		switch {
		case i == 0 && o != 0:
			return badRequest("offsets[0]", "offsets[0]: %d; the first bag must start at 0, as in torch", o)
		case o < 0 || o > n || (i > 0 && o < offsets[i-1]):
			return badRequest(fmt.Sprintf("offsets[%d]", i), "offsets[%d]: %d; offsets must not decrease or pass the %d ids", i, o, n)
		}
	}
	if w := q.opts.PerSampleWeights; w != nil {
		if len(w) != len(q.ids) {
			return badRequest("per_sample_weights", "per_sample_weights: %d weights for %d ids", len(w), len(q.ids))
		}
		if q.opts.Mode != store.BagSum {
			return badRequest("per_sample_weights", "per_sample_weights need mode \"sum\", as in torch")
		}
	}
	q.offsets = offsets
	return nil
}
