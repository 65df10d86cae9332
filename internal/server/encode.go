package server

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// An encoding is how rows are written in a response.
type encoding int

const (
	encFloat  encoding = iota // JSON arrays of numbers
	encBase64                 // JSON strings: base64 of the little-endian float32 bytes
	encRaw                    // application/octet-stream: little-endian float32, row-major
	encNpy                    // application/x-npy: a .npy file of shape (rows, dim)
)

// Content types of the binary routes.
const (
	ctypeOctet = "application/octet-stream"
	ctypeNpy   = "application/x-npy"
	ctypeJSON  = "application/json"
)

// chunkValues is how many float32 values a response computes and encodes at
// a time: large responses stream in pieces of 1 MiB of rows, so that a
// request's memory does not grow with its output.
const chunkValues = 1 << 18

// flushBytes is how much encoded output is buffered before it is written.
const flushBytes = 256 << 10

// chunkRows returns how many rows of dim values make one chunk.
func chunkRows(dim int) int { return max(1, chunkValues/dim) }

var (
	floatPool = sync.Pool{New: func() any { return new([]float32) }}
	bytePool  = sync.Pool{New: func() any { return new([]byte) }}
	idPool    = sync.Pool{New: func() any { return new([]int64) }}
)

// getFloats returns a pooled slice of n float32 values; putFloats gives it back.
func getFloats(n int) *[]float32 {
	p := floatPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func putFloats(p *[]float32) {
	if cap(*p) <= 4*chunkValues {
		floatPool.Put(p)
	}
}

func getIDs(n int) *[]int64 {
	p := idPool.Get().(*[]int64)
	if cap(*p) < n {
		*p = make([]int64, n)
	}
	*p = (*p)[:n]
	return p
}

func putIDs(p *[]int64) {
	if cap(*p) <= 1<<20 {
		idPool.Put(p)
	}
}

// errNotFinite is returned when a row holding NaN or an infinity is asked
// for as JSON numbers, which cannot represent them.
type errNotFinite struct{ row int }

func (e errNotFinite) Error() string {
	return fmt.Sprintf("row %d holds NaN or an infinity, which JSON numbers cannot represent; ask for encoding_format base64 or a binary Accept type", e.row)
}

// appendFloatRow appends row as a JSON array of numbers, each as
// encoding/json writes a float32 (appendFloat32). It returns false, with
// b holding part of the row, if a value is NaN or an infinity.
func appendFloatRow(b []byte, row []float32) ([]byte, bool) {
	b, ok := appendFloat32s(append(b, '['), row)
	if !ok {
		return b, false
	}
	return append(b, ']'), true
}

// appendBase64Row appends row as a JSON string holding the standard base64
// of its little-endian float32 bytes, as OpenAI and TEI send them.
func appendBase64Row(b []byte, row []float32) []byte {
	raw := float32Bytes(row)
	n := base64.StdEncoding.EncodedLen(len(raw))
	b = append(b, '"')
	b = append(b, make([]byte, n)...)
	base64.StdEncoding.Encode(b[len(b)-n:], raw)
	return append(b, '"')
}

// littleEndian says whether float32 values in memory are already in the
// wire's byte order, so rows can be written without a copy.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float32Bytes returns the little-endian bytes of v: v's own memory on
// little-endian machines, a copy elsewhere.
func float32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// npyHeader returns a .npy (format 1.0) header for a little-endian float32
// C-order array of shape (rows, dim), padded to 64 bytes as numpy writes it.
func npyHeader(rows int64, dim int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, dim)
	total := 10 + len(dict) + 1
	header := dict + strings.Repeat(" ", (64-total%64)%64) + "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	return append(b, header...)
}

// A response buffers the encoded body of one response and writes it: at
// once with a Content-Length when it is small, streamed (chunked) when it
// grows past flushBytes.
type response struct {
	w       http.ResponseWriter
	ctype   string
	buf     []byte
	bp      *[]byte
	started bool
	written int64
	err     error
	size    int64 // the body's length when known in advance (binary), else 0
}

func newResponse(w http.ResponseWriter, ctype string) *response {
	bp := bytePool.Get().(*[]byte)
	return &response{w: w, ctype: ctype, bp: bp, buf: (*bp)[:0]}
}

// maybeFlush writes the buffer out once it is large.
func (r *response) maybeFlush() {
	if len(r.buf) >= flushBytes {
		r.flush()
	}
}

func (r *response) flush() {
	if !r.started {
		r.w.Header().Set("Content-Type", r.ctype)
		if r.size > 0 {
			r.w.Header().Set("Content-Length", strconv.FormatInt(r.size, 10))
		}
		r.w.WriteHeader(http.StatusOK)
		r.started = true
	}
	if len(r.buf) > 0 && r.err == nil {
		n, err := r.w.Write(r.buf)
		r.written += int64(n)
		r.err = err
	}
	r.buf = r.buf[:0]
}

// writeDirect writes b to the connection after what was buffered (which
// flush wrote out).
func (r *response) writeDirect(b []byte) {
	if r.err == nil {
		n, err := r.w.Write(b)
		r.written += int64(n)
		r.err = err
	}
}

// finish writes what is left (with a Content-Length if nothing was written
// yet) and recycles the buffer. It returns the bytes written.
func (r *response) finish() int64 {
	if !r.started {
		h := r.w.Header()
		h.Set("Content-Type", r.ctype)
		h.Set("Content-Length", strconv.Itoa(len(r.buf)))
		r.w.WriteHeader(http.StatusOK)
		r.started = true
	}
	r.flush()
	r.release()
	return r.written
}

// release recycles the buffer without writing it.
func (r *response) release() {
	if r.bp != nil {
		if cap(r.buf) <= 4*flushBytes {
			*r.bp = r.buf[:0]
			bytePool.Put(r.bp)
		}
		r.bp, r.buf = nil, nil
	}
}

// abort ends a response that failed after it started streaming: the
// connection is cut, so that the client sees a broken response, never a
// complete-looking wrong one.
func (r *response) abort() {
	r.release()
	panic(http.ErrAbortHandler)
}
