package server

import (
	"net/http"
	"strconv"
)

// A rowWriter writes computed rows into a response body in one encoding,
// with the JSON punctuation around them: rows separated by commas, grouped
// in arrays when groups is set, each wrapped by prefix when set.
type rowWriter struct {
	resp   *response
	enc    encoding
	dim    int
	groups []int64                      // starts (in rows) of groups; nil: flat
	prefix func(b []byte, i int) []byte // appended before row i (OpenAI's object), or nil
	suffix string                       // appended after each row, with prefix
	g      int                          // groups opened so far
	rows   int                          // rows written so far
	after  func(b []byte) []byte        // appended once after the last row, or nil
	head   func(b []byte) []byte        // appended once before the first row, or nil
	opened bool
}

func (rw *rowWriter) begin() {
	if rw.head != nil {
		rw.resp.buf = rw.head(rw.resp.buf)
	}
	rw.opened = true
}

// emit is an emitFunc that encodes rows.
func (rw *rowWriter) emit(vals []float32, first int) *apiError {
	if !rw.opened {
		rw.begin()
	}
	r := rw.resp
	if rw.enc == encRaw || rw.enc == encNpy {
		rw.rows += len(vals) / rw.dim
		raw := float32Bytes(vals)
		if len(raw) >= flushBytes && r.size > 0 {
			// Large binary chunks go to the connection as they are,
			// without a copy into the buffer.
			r.flush()
			r.writeDirect(raw)
			return nil
		}
		r.buf = append(r.buf, raw...)
		r.maybeFlush()
		return nil
	}
	for off := 0; off < len(vals); off += rw.dim {
		i := first + off/rw.dim
		b := r.buf
		opened := false
		for rw.groups != nil && rw.g < len(rw.groups) && rw.groups[rw.g] <= int64(i) {
			// Row i starts a group (and ends the empty groups before it).
			if rw.g > 0 {
				b = append(b, "],"...)
			}
			b = append(b, '[')
			rw.g++
			opened = true
		}
		if !opened && i > 0 {
			b = append(b, ',')
		}
		if rw.prefix != nil {
			b = rw.prefix(b, i)
		}
		row := vals[off : off+rw.dim]
		if rw.enc == encBase64 {
			b = appendBase64Row(b, row)
		} else {
			var ok bool
			if b, ok = appendFloatRow(b, row); !ok {
				r.buf = b
				if r.started {
					r.abort()
				}
				return errorf(http.StatusInternalServerError, "encoding_format", "not_finite", "%s", errNotFinite{i}.Error())
			}
		}
		b = append(b, rw.suffix...)
		r.buf = b
		rw.rows++
		r.maybeFlush()
	}
	return nil
}

// end closes the groups and appends the tail.
func (rw *rowWriter) end() {
	if !rw.opened {
		rw.begin()
	}
	if rw.groups != nil && rw.enc != encRaw && rw.enc != encNpy {
		for ; rw.g < len(rw.groups); rw.g++ { // empty groups at the end
			if rw.g > 0 {
				rw.resp.buf = append(rw.resp.buf, "],"...)
			}
			rw.resp.buf = append(rw.resp.buf, '[')
		}
		if len(rw.groups) > 0 {
			rw.resp.buf = append(rw.resp.buf, ']')
		}
	}
	if rw.after != nil {
		rw.resp.buf = rw.after(rw.resp.buf)
	}
}

// contentType returns the response's content type for an encoding.
func contentType(enc encoding) string {
	switch enc {
	case encRaw:
		return ctypeOctet
	case encNpy:
		return ctypeNpy
	}
	return ctypeJSON
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
