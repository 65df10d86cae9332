package safetensors

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/embstore/embstore/internal/strictjson"
)

// headerParser reads the header JSON in one pass over the bytes, with no
// token objects and no tree: it checks every key for duplicates and every
// value for its type as it goes, and keeps only what the Header holds. A
// 99 MB header of 1.3 million tensors parses in about 1.5 s of CPU time,
// allocating 233 MB, where encoding/json's Decoder.Token took 3.4 s and
// allocated over 1 GB (BenchmarkParseLargeHeader, 2-vCPU VM).
//
// The grammar is JSON's (RFC 8259), checked exactly: anything
// encoding/json would refuse as a syntax error is ErrHeaderSyntax here.
type headerParser struct {
	file string
	buf  []byte
	pos  int

	shapes []int64 // every tensor's dimensions, one after the other
}

// fail returns a *FormatError for a problem at header offset off (-1 for
// none).
func (p *headerParser) fail(off int64, tensor, field string, err error, detail string) error {
	if off >= 0 {
		off += lengthSize
	}
	return &FormatError{File: p.file, Offset: off, Tensor: tensor, Field: field, Err: err, Detail: detail}
}

// syntax returns an ErrHeaderSyntax error at offset off.
func (p *headerParser) syntax(off int, tensor, field, detail string) error {
	return p.fail(int64(off), tensor, field, ErrHeaderSyntax, detail)
}

// ws skips JSON whitespace.
func (p *headerParser) ws() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
			continue
		}
		return
	}
}

// next returns the next byte after whitespace without consuming it, or 0 at
// the end of the header.
func (p *headerParser) next() byte {
	p.ws()
	if p.pos >= len(p.buf) {
		return 0
	}
	return p.buf[p.pos]
}

// unexpected describes the byte at p.pos for a syntax error.
func (p *headerParser) unexpected(context string) string {
	if p.pos >= len(p.buf) {
		return "unexpected end of header"
	}
	return fmt.Sprintf("invalid character %q %s", p.buf[p.pos], context)
}

// A kind is the kind of a JSON value, told from its first byte.
type kind int

const (
	kindBad kind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

// kindAt tells the kind of the value starting at p.pos (after whitespace).
func (p *headerParser) kindAt() kind {
	switch c := p.next(); {
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == '"':
		return kindString
	case c == '-' || '0' <= c && c <= '9':
		return kindNumber
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	}
	return kindBad
}

// describeValue names the value at p.pos for an error message, reading a
// number to quote it, as describe does for tokens.
func (p *headerParser) describeValue(tensor, field string) (string, error) {
	switch p.kindAt() {
	case kindObject:
		return "an object", nil
	case kindArray:
		return "an array", nil
	case kindString:
		return "a string", nil
	case kindNumber:
		num, err := p.number(tensor, field)
		if err != nil {
			return "", err
		}
		return "the number " + quote(string(num)), nil
	case kindBool:
		return "a boolean", p.literal(tensor, field)
	case kindNull:
		return "null", p.literal(tensor, field)
	}
	return "", p.syntax(p.pos, tensor, field, p.unexpected("looking for beginning of value"))
}

// literal reads true, false or null.
func (p *headerParser) literal(tensor, field string) error {
	for _, lit := range []string{"true", "false", "null"} {
		if len(p.buf)-p.pos >= len(lit) && string(p.buf[p.pos:p.pos+len(lit)]) == lit {
			p.pos += len(lit)
			return nil
		}
	}
	return p.syntax(p.pos, tensor, field, p.unexpected("in literal"))
}

// number reads a JSON number and returns its text, a view of the header.
func (p *headerParser) number(tensor, field string) ([]byte, error) {
	b, start := p.buf, p.pos
	i := start
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	bad := func(context string) ([]byte, error) {
		p.pos = i
		return nil, p.syntax(i, tensor, field, p.unexpected(context))
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return bad("in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return bad("after decimal point in numeric literal")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return bad("in exponent of numeric literal")
		}
	}
	p.pos = i
	return b[start:i], nil
}

// str reads a JSON string and returns its value, unescaped.
func (p *headerParser) str(tensor, field string) (string, error) {
	b, err := p.strBytes(tensor, field)
	return string(b), err
}

// strBytes reads a JSON string and returns its value, unescaped: a view of
// the header when the string has no escapes (valid until the header is
// released), else a new slice.
func (p *headerParser) strBytes(tensor, field string) ([]byte, error) {
	b := p.buf
	if p.pos >= len(b) || b[p.pos] != '"' {
		return nil, p.syntax(p.pos, tensor, field, p.unexpected("looking for beginning of string"))
	}
	start := p.pos + 1
	i := start
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		i++
	}
	if i < len(b) && b[i] == '"' { // no escapes: the common case
		p.pos = i + 1
		return b[start:i], nil
	}
	out := append([]byte(nil), b[start:i]...)
	for {
		if i >= len(b) {
			p.pos = i
			return nil, p.syntax(i, tensor, field, "unexpected end of header in string")
		}
		c := b[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return out, nil
		case c < 0x20:
			p.pos = i
			return nil, p.syntax(i, tensor, field, p.unexpected("in string literal"))
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			p.pos = i + 1
			return nil, p.syntax(i+1, tensor, field, "unexpected end of header in string escape")
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := strictjson.Hex4(b, i+2)
			if !ok {
				p.pos = i + 2
				return nil, p.syntax(i+2, tensor, field, "invalid \\u escape in string")
			}
			i += 6
			if utf16.IsSurrogate(r) { // paired: strictjson.CheckSurrogates ran first
				if lo, ok := strictjson.Hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r = utf16.DecodeRune(r, lo)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			p.pos = i + 1
			return nil, p.syntax(i+1, tensor, field, p.unexpected("in string escape code"))
		}
		i += 2
	}
}

// expect consumes byte c after whitespace, or fails.
func (p *headerParser) expect(c byte, tensor, field, context string) error {
	if p.next() != c {
		return p.syntax(p.pos, tensor, field, p.unexpected(context))
	}
	p.pos++
	return nil
}

// members calls member for each key of the object at p.pos (its '{' already
// checked by the caller), with the key's offset; member reads the value.
//
// The key is a view of the header or a scratch slice: valid during the call.
func (p *headerParser) members(tensor, field string, member func(key []byte, keyOff int) error) error {
	p.pos++ // '{'
	if p.next() == '}' {
		p.pos++
		return nil
	}
	for {
		p.ws()
		keyOff := p.pos
		if p.pos < len(p.buf) && p.buf[p.pos] != '"' {
			return p.syntax(p.pos, tensor, field, p.unexpected("looking for beginning of object key string"))
		}
		key, err := p.strBytes(tensor, field)
		if err != nil {
			return err
		}
		if err := p.expect(':', tensor, field, "after object key"); err != nil {
			return err
		}
		p.ws()
		if err := member(key, keyOff); err != nil {
			return err
		}
		switch p.next() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		default:
			return p.syntax(p.pos, tensor, field, p.unexpected("after object key:value pair"))
		}
	}
}

// elements calls elem for each element of the array at p.pos (its '['
// already checked by the caller), with the element's index and offset.
func (p *headerParser) elements(tensor, field string, elem func(i, off int) error) error {
	p.pos++ // '['
	if p.next() == ']' {
		p.pos++
		return nil
	}
	for i := 0; ; i++ {
		p.ws()
		if err := elem(i, p.pos); err != nil {
			return err
		}
		switch p.next() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		default:
			return p.syntax(p.pos, tensor, field, p.unexpected("after array element"))
		}
	}
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
	if off, ok := strictjson.CheckSurrogates(p.buf); !ok {
		return nil, p.fail(int64(off), "", "", ErrHeaderSyntax, "\\u escape leaves a UTF-16 surrogate unpaired")
	}
	// Every tensor entry is an object: the count of '{' bounds the number
	// of tensors (strings may hold more), so the tables are sized once.
	n := bytes.Count(p.buf, []byte{'{'})
	h := &Header{index: make(map[string]int, n), Tensors: make([]TensorInfo, 0, n)}
	shapeAt := make([]int, 0, n+1) // where each tensor's dimensions start in p.shapes
	p.shapes = make([]int64, 0, n)
	haveMetadata := false
	err := p.members("", "", func(key []byte, keyOff int) error {
		_, dup := h.index[string(key)]
		if dup || string(key) == "__metadata__" && haveMetadata {
			return p.fail(int64(keyOff), "", "", ErrDuplicateKey, "key "+quote(string(key))+" appears twice at the top level")
		}
		name := string(key)
		if name == "__metadata__" {
			haveMetadata = true
			var err error
			h.Metadata, err = p.metadata()
			return err
		}
		if name == "" {
			return p.fail(int64(keyOff), "", "", ErrTensorName, "empty tensor name")
		}
		shapeAt = append(shapeAt, len(p.shapes))
		t, err := p.tensor(name, keyOff)
		if err != nil {
			return err
		}
		h.index[name] = len(h.Tensors)
		h.Tensors = append(h.Tensors, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos < len(p.buf) {
		return nil, p.fail(int64(p.pos), "", "", ErrHeaderTrailing, fmt.Sprintf("byte %q after the closing '}'", p.buf[p.pos]))
	}
	// The dimensions were appended to one slice while it grew: cut each
	// tensor's shape out of its final backing array.
	shapeAt = append(shapeAt, len(p.shapes))
	for i := range h.Tensors {
		h.Tensors[i].Shape = p.shapes[shapeAt[i]:shapeAt[i+1]:shapeAt[i+1]]
	}
	return h, nil
}

// metadata parses the __metadata__ object.
func (p *headerParser) metadata() (map[string]string, error) {
	const field = "__metadata__"
	if p.kindAt() != kindObject {
		off := p.pos
		what, err := p.describeValue("", field)
		if err != nil {
			return nil, err
		}
		return nil, p.fail(int64(off), "", "", ErrMetadata, "value is "+what+", not an object")
	}
	m := make(map[string]string)
	err := p.members("", field, func(k []byte, keyOff int) error {
		key := string(k)
		if _, dup := m[key]; dup {
			return p.fail(int64(keyOff), "", field, ErrDuplicateKey, "key "+quote(key)+" appears twice")
		}
		valOff := p.pos
		if p.kindAt() != kindString {
			what, err := p.describeValue("", field)
			if err != nil {
				return err
			}
			return p.fail(int64(valOff), "", "", ErrMetadata, "value of "+quote(key)+" is "+what+", not a string")
		}
		v, err := p.str("", field)
		m[key] = v
		return err
	})
	return m, err
}

// tensor parses one tensor entry: exactly the fields dtype, shape and
// data_offsets, each once.
func (p *headerParser) tensor(name string, keyOff int) (TensorInfo, error) {
	t := TensorInfo{Name: name, keyOffset: int64(keyOff) + lengthSize}
	if p.kindAt() != kindObject {
		off := p.pos
		what, err := p.describeValue(name, "")
		if err != nil {
			return t, err
		}
		return t, p.fail(int64(off), name, "", ErrTensorEntry, "value is "+what)
	}
	var haveDType, haveShape, haveOffsets bool
	err := p.members(name, "", func(key []byte, fieldOff int) error {
		var have *bool
		var field string
		switch string(key) {
		case "dtype":
			have, field = &haveDType, "dtype"
		case "shape":
			have, field = &haveShape, "shape"
		case "data_offsets":
			have, field = &haveOffsets, "data_offsets"
		default:
			return p.fail(int64(fieldOff), name, "", ErrUnknownField, "field "+quote(string(key))+"; only dtype, shape and data_offsets are allowed")
		}
		if *have {
			return p.fail(int64(fieldOff), name, field, ErrDuplicateKey, "field appears twice")
		}
		*have = true
		switch field {
		case "dtype":
			return p.dtype(&t)
		case "shape":
			return p.shape(&t)
		}
		return p.offsets(&t)
	})
	if err != nil {
		return t, err
	}
	endOff := p.pos - 1 // the closing '}'
	for _, f := range []struct {
		have bool
		name string
	}{{haveDType, "dtype"}, {haveShape, "shape"}, {haveOffsets, "data_offsets"}} {
		if !f.have {
			return t, p.fail(int64(endOff), name, f.name, ErrMissingField, "field is missing")
		}
	}
	return t, nil
}

func (p *headerParser) dtype(t *TensorInfo) error {
	off := p.pos
	if p.kindAt() != kindString {
		what, err := p.describeValue(t.Name, "dtype")
		if err != nil {
			return err
		}
		return p.fail(int64(off), t.Name, "dtype", ErrDType, "value is "+what+", not a string")
	}
	s, err := p.strBytes(t.Name, "dtype")
	if err != nil {
		return err
	}
	if len(s) == 0 || len(s) > maxDTypeLen {
		return p.fail(int64(off), t.Name, "dtype", ErrDType, fmt.Sprintf("%d characters, want 1 to %d", len(s), maxDTypeLen))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return p.fail(int64(off), t.Name, "dtype", ErrDType, quote(string(s))+" has a character other than letters, digits and '_'")
		}
	}
	// A known dtype shares its name instead of keeping one copy per tensor.
	if d, ok := dtypeNames[string(s)]; ok {
		t.DType = d
	} else {
		t.DType = DType(s)
	}
	return nil
}

// dtypeNames maps the name of each known dtype to the dtype.
var dtypeNames = func() map[string]DType {
	m := make(map[string]DType, len(dtypes))
	for d := range dtypes {
		m[string(d)] = d
	}
	return m
}()

// integer reads a value that must be a plain non-negative integer up to
// MaxSize, and says what is wrong otherwise.
func (p *headerParser) integer(tensor, field string) (int64, string, error) {
	if p.kindAt() != kindNumber {
		what, err := p.describeValue(tensor, field)
		if err != nil {
			return 0, "", err
		}
		return 0, "is " + what + ", not an integer", nil
	}
	num, err := p.number(tensor, field)
	if err != nil {
		return 0, "", err
	}
	v := int64(0)
	for _, c := range num {
		if c < '0' || c > '9' || v > MaxSize/10 {
			_, why := nonNegIntText(string(num)) // the message
			return 0, why, nil
		}
		v = v*10 + int64(c-'0')
	}
	if v > MaxSize {
		_, why := nonNegIntText(string(num))
		return 0, why, nil
	}
	return v, "", nil
}

func (p *headerParser) shape(t *TensorInfo) error {
	off := p.pos
	if p.kindAt() != kindArray {
		what, err := p.describeValue(t.Name, "shape")
		if err != nil {
			return err
		}
		return p.fail(int64(off), t.Name, "shape", ErrShape, "value is "+what+", not an array")
	}
	start := len(p.shapes)
	return p.elements(t.Name, "shape", func(i, dimOff int) error {
		if i == MaxRank {
			return p.fail(int64(dimOff), t.Name, "shape", ErrRank, fmt.Sprintf("more than %d dimensions", MaxRank))
		}
		d, why, err := p.integer(t.Name, "shape")
		if err != nil {
			return err
		}
		if why != "" {
			return p.fail(int64(dimOff), t.Name, "shape", ErrShape, fmt.Sprintf("dimension %d %s", len(p.shapes)-start, why))
		}
		p.shapes = append(p.shapes, d)
		return nil
	})
}

func (p *headerParser) offsets(t *TensorInfo) error {
	const field = "data_offsets"
	off := p.pos
	if p.kindAt() != kindArray {
		what, err := p.describeValue(t.Name, field)
		if err != nil {
			return err
		}
		return p.fail(int64(off), t.Name, field, ErrDataOffsets, "value is "+what+", not an array")
	}
	var v [2]int64
	n := 0
	err := p.elements(t.Name, field, func(i, elemOff int) error {
		if i == 2 {
			return p.fail(int64(elemOff), t.Name, field, ErrDataOffsets, "more than two elements")
		}
		x, why, err := p.integer(t.Name, field)
		if err != nil {
			return err
		}
		if why != "" {
			return p.fail(int64(elemOff), t.Name, field, ErrDataOffsets, []string{"begin", "end"}[i]+" "+why)
		}
		v[i] = x
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n < 2 {
		return p.fail(int64(p.pos-1), t.Name, field, ErrDataOffsets, "fewer than two elements")
	}
	if v[1] < v[0] {
		return p.fail(int64(off), t.Name, field, ErrDataOffsets, fmt.Sprintf("end %d is before begin %d", v[1], v[0]))
	}
	t.Begin, t.End = v[0], v[1]
	return nil
}
