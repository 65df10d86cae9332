package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Limits applied to every file. They are checked before anything is
// allocated from a value read from the file.
const (
	// MaxHeaderSize is the largest header length accepted, in bytes: 100
	// MB, the limit of the reference implementation.
	MaxHeaderSize = 100_000_000
	// MaxRank is the largest number of dimensions a tensor may have.
	MaxRank = 64
	// MaxSize is the largest dimension, element count, byte length and
	// data offset accepted: 2^48-1, the size_t bound of the format's JSON
	// schema.
	MaxSize = 1<<48 - 1
	// maxDTypeLen bounds the length of a dtype string.
	maxDTypeLen = 64
)

// lengthSize is the size of the little-endian u64 header length that starts
// every file.
const lengthSize = 8

// A TensorInfo describes one tensor as the header declares it, after
// validation.
type TensorInfo struct {
	Name  string  // the tensor's key in the header
	DType DType   // element type, possibly one this package does not know
	Shape []int64 // dimensions, outermost first; empty for a scalar

	// Begin and End are the header's data_offsets: the tensor's bytes are
	// [Begin, End) counted from the end of the header.
	Begin, End int64
	// Offset is the file offset of the tensor's first byte.
	Offset int64
	// NumElements is the product of Shape.
	NumElements int64

	// keyOffset is the file offset of the tensor's name in the header,
	// used in error messages.
	keyOffset int64
}

// Size returns the tensor's length in bytes, End - Begin.
func (t *TensorInfo) Size() int64 { return t.End - t.Begin }

// A Header is the validated header of a safetensors file.
type Header struct {
	// Size is the size of the whole file in bytes.
	Size int64
	// HeaderSize is the length of the JSON header, padding included; the
	// tensor data starts at file offset 8 + HeaderSize.
	HeaderSize int64
	// Metadata is the header's __metadata__ object, or nil if it has none.
	Metadata map[string]string
	// Tensors lists every tensor in the order of its bytes in the file
	// (by Begin, then End, then name).
	Tensors []TensorInfo

	// index maps each tensor name to its position in Tensors.
	index map[string]int
}

// ParseHeader reads and validates the header of the safetensors file of the
// given size that r reads. It reads the 8-byte length and the header, never
// the tensor data; every rule in the package documentation is checked, and
// a violation is reported as a *FormatError.
func ParseHeader(r io.ReaderAt, size int64) (*Header, error) {
	return parseHeader(r, size, "")
}

func parseHeader(r io.ReaderAt, size int64, file string) (*Header, error) {
	fail := func(off int64, err error, detail string) error {
		return &FormatError{File: file, Offset: off, Err: err, Detail: detail}
	}
	if size < lengthSize {
		return nil, fail(0, ErrFileTooSmall, fmt.Sprintf("%d bytes, need at least 8", max(size, 0)))
	}
	var lenBuf [lengthSize]byte
	if err := readFullAt(r, lenBuf[:], 0); err != nil {
		return nil, readError(file, "reading header length", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fail(0, ErrHeaderTooLarge, fmt.Sprintf("%d bytes, limit %d (is this a safetensors file?)", n, MaxHeaderSize))
	}
	if n > uint64(size-lengthSize) {
		return nil, fail(0, ErrHeaderLength, fmt.Sprintf("header of %d bytes, but only %d bytes follow the length", n, size-lengthSize))
	}
	buf := make([]byte, n)
	if err := readFullAt(r, buf, lengthSize); err != nil {
		return nil, readError(file, "reading header", err)
	}
	p := &headerParser{file: file, buf: buf}
	h, err := p.parse()
	if err != nil {
		return nil, err
	}
	h.Size = size
	h.HeaderSize = int64(n)
	if err := h.layOut(file); err != nil {
		return nil, err
	}
	return h, nil
}

// readFullAt reads exactly len(p) bytes at off. Following the io.ReaderAt
// contract, a read that fills p is a success even if it also returns
// io.EOF.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readError reports an I/O error while reading a file.
func readError(file, what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if file == "" {
		return fmt.Errorf("safetensors: %s: %w", what, err)
	}
	return fmt.Errorf("safetensors: %s: %s: %w", file, what, err)
}

// headerParser walks the header JSON token by token, so that every key can be
// checked for duplicates and every value for its type before it is kept.
type headerParser struct {
	file string
	buf  []byte
	dec  *json.Decoder
}

// fail returns a *FormatError for a problem at header offset off (-1 for
// none).
func (p *headerParser) fail(off int64, tensor, field string, err error, detail string) error {
	if off >= 0 {
		off += lengthSize
	}
	return &FormatError{File: p.file, Offset: off, Tensor: tensor, Field: field, Err: err, Detail: detail}
}

// here returns the header offset of the next token.
func (p *headerParser) here() int64 {
	off := p.dec.InputOffset()
	for off < int64(len(p.buf)) {
		switch p.buf[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// token returns the next JSON token, turning decoder errors into
// ErrHeaderSyntax.
func (p *headerParser) token(tensor, field string) (json.Token, error) {
	off := p.here()
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, p.fail(se.Offset, tensor, field, ErrHeaderSyntax, se.Error())
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, p.fail(int64(len(p.buf)), tensor, field, ErrHeaderSyntax, "unexpected end of header")
		default:
			return nil, p.fail(off, tensor, field, ErrHeaderSyntax, err.Error())
		}
	}
	return tok, nil
}

func (p *headerParser) parse() (*Header, error) {
	if len(p.buf) == 0 || p.buf[0] != '{' {
		detail := "empty header"
		if len(p.buf) > 0 {
			detail = fmt.Sprintf("first byte is %q", p.buf[0])
		}
		return nil, p.fail(0, "", "", ErrHeaderStart, detail)
	}
	if !utf8.Valid(p.buf) {
		off := 0
		for off < len(p.buf) {
			r, size := utf8.DecodeRune(p.buf[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, p.fail(int64(off), "", "", ErrHeaderUTF8, fmt.Sprintf("byte %#02x", p.buf[off]))
	}
	if off, ok := checkSurrogates(p.buf); !ok {
		return nil, p.fail(int64(off), "", "", ErrHeaderSyntax, "\\u escape leaves a UTF-16 surrogate unpaired")
	}
	p.dec = json.NewDecoder(bytes.NewReader(p.buf))
	p.dec.UseNumber()

	if _, err := p.token("", ""); err != nil { // the '{' checked above
		return nil, err
	}
	h := &Header{index: make(map[string]int)}
	haveMetadata := false
	for p.dec.More() {
		keyOff := p.here()
		tok, err := p.token("", "")
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, p.fail(keyOff, "", "", ErrHeaderSyntax, "object key is not a string")
		}
		_, dup := h.index[name]
		if dup || name == "__metadata__" && haveMetadata {
			return nil, p.fail(keyOff, "", "", ErrDuplicateKey, "key "+quote(name)+" appears twice at the top level")
		}
		if name == "__metadata__" {
			haveMetadata = true
			if h.Metadata, err = p.metadata(); err != nil {
				return nil, err
			}
			continue
		}
		if name == "" {
			return nil, p.fail(keyOff, "", "", ErrTensorName, "empty tensor name")
		}
		t, err := p.tensor(name, keyOff)
		if err != nil {
			return nil, err
		}
		h.index[name] = len(h.Tensors)
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := p.token("", ""); err != nil { // the closing '}'
		return nil, err
	}
	end := p.dec.InputOffset()
	for i, c := range p.buf[end:] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return nil, p.fail(end+int64(i), "", "", ErrHeaderTrailing, fmt.Sprintf("byte %q after the closing '}'", c))
		}
	}
	return h, nil
}

// metadata parses the __metadata__ object.
func (p *headerParser) metadata() (map[string]string, error) {
	const field = "__metadata__"
	off := p.here()
	tok, err := p.token("", field)
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, p.fail(off, "", "", ErrMetadata, "value is "+describe(tok)+", not an object")
	}
	m := make(map[string]string)
	for p.dec.More() {
		keyOff := p.here()
		tok, err := p.token("", field)
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if _, dup := m[key]; dup {
			return nil, p.fail(keyOff, "", field, ErrDuplicateKey, "key "+quote(key)+" appears twice")
		}
		valOff := p.here()
		tok, err = p.token("", field)
		if err != nil {
			return nil, err
		}
		val, ok := tok.(string)
		if !ok {
			return nil, p.fail(valOff, "", "", ErrMetadata, "value of "+quote(key)+" is "+describe(tok)+", not a string")
		}
		m[key] = val
	}
	if _, err := p.token("", field); err != nil {
		return nil, err
	}
	return m, nil
}

// tensor parses one tensor entry: exactly the fields dtype, shape and
// data_offsets, each once.
func (p *headerParser) tensor(name string, keyOff int64) (TensorInfo, error) {
	t := TensorInfo{Name: name, keyOffset: keyOff + lengthSize}
	off := p.here()
	tok, err := p.token(name, "")
	if err != nil {
		return t, err
	}
	if tok != json.Delim('{') {
		return t, p.fail(off, name, "", ErrTensorEntry, "value is "+describe(tok))
	}
	var haveDType, haveShape, haveOffsets bool
	for p.dec.More() {
		fieldOff := p.here()
		tok, err := p.token(name, "")
		if err != nil {
			return t, err
		}
		field, _ := tok.(string)
		var have *bool
		switch field {
		case "dtype":
			have = &haveDType
		case "shape":
			have = &haveShape
		case "data_offsets":
			have = &haveOffsets
		default:
			return t, p.fail(fieldOff, name, "", ErrUnknownField, "field "+quote(field)+"; only dtype, shape and data_offsets are allowed")
		}
		if *have {
			return t, p.fail(fieldOff, name, field, ErrDuplicateKey, "field appears twice")
		}
		*have = true
		switch field {
		case "dtype":
			err = p.dtype(&t)
		case "shape":
			err = p.shape(&t)
		case "data_offsets":
			err = p.offsets(&t)
		}
		if err != nil {
			return t, err
		}
	}
	endOff := p.here()
	if _, err := p.token(name, ""); err != nil {
		return t, err
	}
	for _, f := range []struct {
		have bool
		name string
	}{{haveDType, "dtype"}, {haveShape, "shape"}, {haveOffsets, "data_offsets"}} {
		if !f.have {
			return t, p.fail(endOff, name, f.name, ErrMissingField, "field is missing")
		}
	}
	return t, nil
}

func (p *headerParser) dtype(t *TensorInfo) error {
	off := p.here()
	tok, err := p.token(t.Name, "dtype")
	if err != nil {
		return err
	}
	s, ok := tok.(string)
	if !ok {
		return p.fail(off, t.Name, "dtype", ErrDType, "value is "+describe(tok)+", not a string")
	}
	if len(s) == 0 || len(s) > maxDTypeLen {
		return p.fail(off, t.Name, "dtype", ErrDType, fmt.Sprintf("%d characters, want 1 to %d", len(s), maxDTypeLen))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return p.fail(off, t.Name, "dtype", ErrDType, quote(s)+" has a character other than letters, digits and '_'")
		}
	}
	t.DType = DType(s)
	return nil
}

func (p *headerParser) shape(t *TensorInfo) error {
	off := p.here()
	tok, err := p.token(t.Name, "shape")
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return p.fail(off, t.Name, "shape", ErrShape, "value is "+describe(tok)+", not an array")
	}
	t.Shape = make([]int64, 0, 4)
	for p.dec.More() {
		dimOff := p.here()
		if len(t.Shape) == MaxRank {
			return p.fail(dimOff, t.Name, "shape", ErrRank, fmt.Sprintf("more than %d dimensions", MaxRank))
		}
		tok, err := p.token(t.Name, "shape")
		if err != nil {
			return err
		}
		d, why := nonNegInt(tok)
		if why != "" {
			return p.fail(dimOff, t.Name, "shape", ErrShape, fmt.Sprintf("dimension %d %s", len(t.Shape), why))
		}
		t.Shape = append(t.Shape, d)
	}
	_, err = p.token(t.Name, "shape")
	return err
}

func (p *headerParser) offsets(t *TensorInfo) error {
	const field = "data_offsets"
	off := p.here()
	tok, err := p.token(t.Name, field)
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return p.fail(off, t.Name, field, ErrDataOffsets, "value is "+describe(tok)+", not an array")
	}
	var v [2]int64
	for i := range v {
		elemOff := p.here()
		if !p.dec.More() {
			return p.fail(elemOff, t.Name, field, ErrDataOffsets, "fewer than two elements")
		}
		tok, err := p.token(t.Name, field)
		if err != nil {
			return err
		}
		var why string
		if v[i], why = nonNegInt(tok); why != "" {
			return p.fail(elemOff, t.Name, field, ErrDataOffsets, []string{"begin", "end"}[i]+" "+why)
		}
	}
	if p.dec.More() {
		return p.fail(p.here(), t.Name, field, ErrDataOffsets, "more than two elements")
	}
	if _, err := p.token(t.Name, field); err != nil {
		return err
	}
	if v[1] < v[0] {
		return p.fail(off, t.Name, field, ErrDataOffsets, fmt.Sprintf("end %d is before begin %d", v[1], v[0]))
	}
	t.Begin, t.End = v[0], v[1]
	return nil
}

// nonNegInt accepts a JSON number that is a plain non-negative integer no
// larger than MaxSize, and otherwise says what is wrong with tok.
func nonNegInt(tok json.Token) (int64, string) {
	num, ok := tok.(json.Number)
	if !ok {
		return 0, "is " + describe(tok) + ", not an integer"
	}
	s := string(num)
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "is " + quote(s) + ", not a non-negative integer"
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > MaxSize {
		return 0, "is " + quote(s) + ", over the limit 2^48-1"
	}
	return int64(v), ""
}

// describe names a JSON token's kind for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "a " + string(v)
	case string:
		return "a string"
	case json.Number:
		return "the number " + quote(string(v))
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// checkSurrogates reports whether every \u escape for a UTF-16 surrogate in
// the JSON text b is part of a high-low pair; encoding/json would otherwise
// silently turn a lone surrogate into U+FFFD and let two different keys
// collide. It returns the offset of the first bad escape. Malformed escapes
// are left to the JSON decoder.
func checkSurrogates(b []byte) (int, bool) {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(b) {
				return 0, true
			}
			if b[i+1] != 'u' {
				i++
				continue
			}
			v, ok := hex4(b, i+2)
			if !ok {
				return 0, true
			}
			switch {
			case 0xdc00 <= v && v < 0xe000:
				return i, false
			case 0xd800 <= v && v < 0xdc00:
				if i+11 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
					return i, false
				}
				w, ok := hex4(b, i+8)
				if !ok || w < 0xdc00 || w >= 0xe000 {
					return i, false
				}
				i += 11
			default:
				i += 5
			}
		}
	}
	return 0, true
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// layOut computes every tensor's element count and byte length with
// overflow-checked arithmetic, checks them against data_offsets, and checks
// that the tensors tile the data exactly: sorted by offset, contiguous from
// 0, no gap, no overlap, the last ending at the end of the file.
func (h *Header) layOut(file string) error {
	dataStart := lengthSize + h.HeaderSize
	dataSize := h.Size - dataStart
	for i := range h.Tensors {
		t := &h.Tensors[i]
		fail := func(field string, err error, detail string) error {
			return &FormatError{File: file, Offset: t.keyOffset, Tensor: t.Name, Field: field, Err: err, Detail: detail}
		}
		numel := uint64(1)
		for _, d := range t.Shape {
			hi, lo := bits.Mul64(numel, uint64(d))
			if hi != 0 || lo > MaxSize {
				return fail("shape", ErrSizeOverflow, fmt.Sprintf("element count of shape %v exceeds 2^48-1", t.Shape))
			}
			numel = lo
		}
		t.NumElements = int64(numel)
		t.Offset = dataStart + t.Begin
		if !t.DType.Known() {
			// The element size of an unknown dtype is unknown: its bytes
			// are kept in the layout below but cannot be checked against
			// the shape. Reading such a tensor is refused.
			continue
		}
		nbits := numel * uint64(t.DType.Bits()) // < 2^48 * 64, no overflow
		if nbits%8 != 0 {
			return fail("shape", ErrSizeMismatch, fmt.Sprintf("%d elements of %d-bit %s do not fill whole bytes", numel, t.DType.Bits(), t.DType))
		}
		if nbits/8 > MaxSize {
			return fail("shape", ErrSizeOverflow, fmt.Sprintf("byte length of %v %s exceeds 2^48-1", t.Shape, t.DType))
		}
		if nbytes := int64(nbits / 8); t.Size() != nbytes {
			return fail("data_offsets", ErrSizeMismatch, fmt.Sprintf("[%d, %d] spans %d bytes; %s %v needs %d", t.Begin, t.End, t.Size(), t.DType, t.Shape, nbytes))
		}
	}
	slices.SortFunc(h.Tensors, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name))
	})
	for i, t := range h.Tensors {
		h.index[t.Name] = i
	}
	pos := int64(0)
	prev := ""
	for i := range h.Tensors {
		t := &h.Tensors[i]
		fail := func(err error, detail string) error {
			return &FormatError{File: file, Offset: t.keyOffset, Tensor: t.Name, Field: "data_offsets", Err: err, Detail: detail}
		}
		switch {
		case t.Begin > pos && prev == "":
			return fail(ErrTensorGap, fmt.Sprintf("starts at %d; the first tensor must start at 0", t.Begin))
		case t.Begin > pos:
			return fail(ErrTensorGap, fmt.Sprintf("starts at %d but %s ends at %d", t.Begin, quote(prev), pos))
		case t.Begin < pos:
			return fail(ErrTensorOverlap, fmt.Sprintf("[%d, %d] starts inside %s, which ends at %d", t.Begin, t.End, quote(prev), pos))
		case t.End > dataSize:
			return fail(ErrDataTruncated, fmt.Sprintf("ends at %d, but the file holds %d bytes of data", t.End, dataSize))
		}
		pos = t.End
		prev = t.Name
	}
	if pos < dataSize {
		detail := fmt.Sprintf("%d bytes follow the last tensor, which ends at data offset %d", dataSize-pos, pos)
		if len(h.Tensors) == 0 {
			detail = fmt.Sprintf("%d bytes follow a header that declares no tensors", dataSize)
		}
		return &FormatError{File: file, Offset: dataStart + pos, Err: ErrTrailingData, Detail: detail}
	}
	return nil
}
