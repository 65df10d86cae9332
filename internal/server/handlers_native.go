package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/shardmeta"
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
	if err := lookupRows(r.Context(), t, q, rw.emit); err != nil {
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
	if err := bagRows(r.Context(), t, q, rw.emit); err != nil {
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
// Tables served from files have Path and File; shards (from embpack shard)
// have Shard, their range of the whole table's rows; tables of a cluster
// (embquery route) have Cluster instead, which describes the versions and
// replicas behind them.
type TableInfo struct {
	Name           string          `json:"name"`
	Path           string          `json:"path,omitempty"`
	Rows           int64           `json:"rows"`
	Dim            int             `json:"dim"`
	DType          string          `json:"dtype"`
	Positions      int64           `json:"positions"`
	PositionOffset int64           `json:"position_offset"`
	TokenScale     float32         `json:"token_scale"`
	ComputeDType   string          `json:"compute_dtype"`
	Tokenizer      bool            `json:"tokenizer"`
	Pooling        string          `json:"pooling"`   // the default pooling of /v1/embeddings and /embed: mean, max, cls or last
	Normalize      bool            `json:"normalize"` // whether /v1/embeddings L2-normalises the pooled vectors
	Generation     uint64          `json:"generation"`
	LoadedAt       time.Time       `json:"loaded_at"`
	Reloads        uint64          `json:"reloads"`
	ReloadFailures uint64          `json:"reload_failures"`
	LastError      string          `json:"last_reload_error,omitempty"`
	File           *FileInfo       `json:"file,omitempty"`
	Shard          *shardmeta.Info `json:"shard,omitempty"`
	Cluster        any             `json:"cluster,omitempty"`
	Metadata       json.RawMessage `json:"metadata"`

	mapped int64 // bytes mapped, for the metrics; -1 if unknown
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
func (s *Server) infoOf(sv *served, t Table) TableInfo {
	info := sv.src.Info(t)
	info.Name = sv.name
	if t != nil {
		enc, err := s.encoder(sv, t)
		info.Tokenizer = enc != nil && err == nil
		if p, err := s.poolingOf(sv, t); err == nil {
			info.Pooling, info.Normalize = p.Mode.String(), p.Normalize
		}
	}
	if info.Metadata == nil {
		info.Metadata = json.RawMessage("null")
	}
	return info
}

// encoder returns the tokenizer of a version of a served table, or nil,
// or the error of a tokenizer that cannot be used.
func (s *Server) encoder(sv *served, t Table) (TextEncoder, error) {
	if lt, ok := t.(*localTable); ok {
		return s.cfg.Encoder(lt.st())
	}
	if e, ok := sv.src.(TableEncoder); ok {
		return e.Encoder(t), nil
	}
	return nil, nil
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
	if infos := s.TableInfos(); infos != nil {
		out.Data = infos
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
