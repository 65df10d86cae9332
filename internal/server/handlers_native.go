package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/store"
)

func (s *Server) limits(status int) batchLimits {
	return batchLimits{maxInputs: s.cfg.MaxInputs, maxTokens: s.cfg.MaxTokens, status: status}
}

// lookup answers POST /v1/lookup: the rows of token ids (with positions
// added, or rows of the positional table), as embquery lookup prints them.
func (s *Server) lookup(w *reply, r *http.Request) *apiError {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	defer putBytes(body)
	var q *lookupQuery
	if isBinary(r) {
		q, err = decodeLookupBinary(*body, r.URL.RawQuery, s.limits(http.StatusRequestEntityTooLarge))
	} else {
		q, err = decodeLookupJSON(*body, s.limits(http.StatusRequestEntityTooLarge))
	}
	if err != nil {
		return err
	}
	if q.pooled != nil {
		defer putIDs(q.pooled)
	}
	sv, t, release, err := s.acquire(q.table, "table", familyOpenAI)
	if err != nil {
		return err
	}
	defer release()
	enc := acceptEncoding(r, q.enc)
	n := int64(len(q.ids.ids))
	dim := t.Dim()
	resp := newResponse(w, contentType(enc))
	rw := &rowWriter{resp: resp, enc: enc, dim: dim}
	switch enc {
	case encRaw:
		resp.size = n * int64(dim) * 4
	case encNpy:
		hdr := npyHeader(n, dim)
		resp.size = int64(len(hdr)) + n*int64(dim)*4
		rw.head = func(b []byte) []byte { return append(b, hdr...) }
	default:
		if q.ids.nested {
			rw.groups = q.ids.starts
		}
		rw.head = func(b []byte) []byte {
			b = append(b, `{"table":`...)
			b = appendJSONString(b, sv.name)
			b = append(b, `,"dim":`...)
			b = appendInt(b, int64(dim))
			return append(b, `,"data":[`...)
		}
		rw.after = func(b []byte) []byte { return append(b, "]}\n"...) }
	}
	if err := lookupRows(t, q, rw.emit); err != nil {
		resp.release()
		return err
	}
	rw.end()
	resp.finish()
	w.inputs = int(n)
	s.metrics.rows.WithLabelValues(sv.name).Add(float64(n))
	return nil
}

// bag answers POST /v1/bag: pooled bags, as embquery bag computes them.
func (s *Server) bag(w *reply, r *http.Request) *apiError {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	defer putBytes(body)
	var q *bagQuery
	if isBinary(r) {
		q, err = decodeBagBinary(*body, r.URL.RawQuery, s.limits(http.StatusRequestEntityTooLarge))
	} else {
		q, err = decodeBagJSON(*body, s.limits(http.StatusRequestEntityTooLarge))
	}
	if err != nil {
		return err
	}
	sv, t, release, err := s.acquire(q.table, "table", familyOpenAI)
	if err != nil {
		return err
	}
	defer release()
	enc := acceptEncoding(r, q.enc)
	bags := int64(len(q.offsets))
	dim := t.Dim()
	resp := newResponse(w, contentType(enc))
	rw := &rowWriter{resp: resp, enc: enc, dim: dim}
	switch enc {
	case encRaw:
		resp.size = bags * int64(dim) * 4
	case encNpy:
		hdr := npyHeader(bags, dim)
		resp.size = int64(len(hdr)) + bags*int64(dim)*4
		rw.head = func(b []byte) []byte { return append(b, hdr...) }
	default:
		rw.head = func(b []byte) []byte {
			b = append(b, `{"table":`...)
			b = appendJSONString(b, sv.name)
			b = append(b, `,"dim":`...)
			b = appendInt(b, int64(dim))
			return append(b, `,"data":[`...)
		}
		rw.after = func(b []byte) []byte { return append(b, "]}\n"...) }
	}
	if err := bagRows(t, q, rw.emit); err != nil {
		resp.release()
		return err
	}
	rw.end()
	resp.finish()
	w.inputs = int(bags)
	s.metrics.rows.WithLabelValues(sv.name).Add(float64(len(q.ids)))
	return nil
}

// TableInfo is what GET /v1/tables/NAME reports about a served table.
type TableInfo struct {
	Name           string          `json:"name"`
	Path           string          `json:"path"`
	Rows           int64           `json:"rows"`
	Dim            int             `json:"dim"`
	DType          string          `json:"dtype"`
	Positions      int64           `json:"positions"`
	PositionOffset int64           `json:"position_offset"`
	TokenScale     float32         `json:"token_scale"`
	ComputeDType   string          `json:"compute_dtype"`
	Tokenizer      bool            `json:"tokenizer"`
	Pooling        string          `json:"pooling"`
	Generation     uint64          `json:"generation"`
	LoadedAt       time.Time       `json:"loaded_at"`
	Reloads        uint64          `json:"reloads"`
	ReloadFailures uint64          `json:"reload_failures"`
	LastError      string          `json:"last_reload_error,omitempty"`
	File           FileInfo        `json:"file"`
	Metadata       json.RawMessage `json:"metadata"`
}

// FileInfo describes the file behind a table and how far its checksums were
// checked.
type FileInfo struct {
	Size      int64  `json:"size"`
	HeaderCRC uint32 `json:"header_crc32c"`
	Checksums string `json:"checksums"` // "verified" or "header only"
	MapMode   string `json:"map_mode"`
	Resident  int64  `json:"resident_bytes"` // -1 if unknown
}

// infoOf describes a served table from one version of it.
func (s *Server) infoOf(sv *served, t *store.Table) TableInfo {
	h := t.Header()
	st := sv.follower.Stats()
	info := TableInfo{
		Name: sv.name, Path: sv.path, Rows: t.Rows(), Dim: t.Dim(), DType: t.DType().String(),
		Positions: t.Positions(), PositionOffset: t.PositionOffset(), TokenScale: h.TokenScale,
		ComputeDType: computeName(h.ComputeDType), Tokenizer: s.cfg.Encoder(t) != nil, Pooling: "mean",
		Generation: st.Generation, LoadedAt: st.LoadedAt.UTC(), Reloads: st.Reloads, ReloadFailures: st.Failures,
		File:     FileInfo{Size: h.FileSize, HeaderCRC: h.CRC, Checksums: "header only", Resident: -1},
		Metadata: json.RawMessage("null"),
	}
	if st.LastError != nil {
		info.LastError = st.LastError.Error()
	}
	if t.VerifyDuration() > 0 {
		info.File.Checksums = "verified"
	}
	if stats, err := t.Stats(); err == nil {
		info.File.MapMode = stats.Mode.String()
		info.File.Resident = stats.ResidentBytes
	}
	if md := t.Metadata(); json.Valid(md) {
		info.Metadata = md
	}
	return info
}

func computeName(d format.DType) string {
	if d == 0 {
		return "f32"
	}
	return d.String()
}

// tableList answers GET /v1/tables.
func (s *Server) tableList(w *reply, r *http.Request) *apiError {
	out := struct {
		Object string      `json:"object"`
		Data   []TableInfo `json:"data"`
	}{Object: "list", Data: []TableInfo{}}
	for _, name := range s.tables.names() {
		if sv := s.tables.get(name); sv != nil {
			t, release := sv.follower.Acquire()
			out.Data = append(out.Data, s.infoOf(sv, t))
			release()
		}
	}
	return writeJSON(w, out)
}

// tableInfo answers GET /v1/tables/NAME.
func (s *Server) tableInfo(w *reply, r *http.Request) *apiError {
	name := strings.TrimPrefix(r.URL.Path, "/v1/tables/")
	sv, t, release, err := s.acquire(name, "table", familyOpenAI)
	if err != nil {
		return err
	}
	defer release()
	return writeJSON(w, s.infoOf(sv, t))
}

// writeJSON writes v with encoding/json (for small, rare responses).
func writeJSON(w http.ResponseWriter, v any) *apiError {
	b, err := json.Marshal(v)
	if err != nil {
		return errorf(http.StatusInternalServerError, "", "", "encoding the response: %v", err)
	}
	writeJSONBody(w, append(b, '\n'))
	return nil
}
