package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// A decoder turns the token strings of a Decode call into text, one step of
// Hugging Face's decode_chain.
type decoder interface {
	decodeChain(tokens []string) []string
	describe() string
}

type decSequence struct{ list []decoder }

func (d *decSequence) decodeChain(t []string) []string {
	for _, x := range d.list {
		t = x.decodeChain(t)
	}
	return t
}

func (d *decSequence) describe() string {
	parts := make([]string, len(d.list))
	for i, x := range d.list {
		parts[i] = x.describe()
	}
	return "Sequence[" + strings.Join(parts, ", ") + "]"
}

// byteLevelDec maps the printable characters back to bytes (a token with a
// character outside the table keeps its own UTF-8 bytes) and reads the bytes
// as UTF-8, replacing ill-formed sequences with U+FFFD.
type byteLevelDec struct{}

func (byteLevelDec) decodeChain(t []string) []string {
	var b []byte
	for _, tok := range t {
		mark := len(b)
		ok := true
		for _, r := range tok {
			c, found := charByte[r]
			if !found {
				ok = false
				break
			}
			b = append(b, c)
		}
		if !ok {
			b = append(b[:mark], tok...)
		}
	}
	s, _ := sanitizeUTF8(nil, string(b))
	return []string{s}
}

func (byteLevelDec) describe() string { return "ByteLevel" }

// metaspaceDec turns the replacement character back into spaces; in the
// first token it is dropped unless the scheme is "never".
type metaspaceDec struct {
	replacement rune
	scheme      prependScheme
}

func (d *metaspaceDec) decodeChain(t []string) []string {
	out := make([]string, len(t))
	for i, tok := range t {
		var sb strings.Builder
		for _, r := range tok {
			if r == d.replacement {
				if i == 0 && d.scheme != prependNever {
					continue
				}
				sb.WriteByte(' ')
			} else {
				sb.WriteRune(r)
			}
		}
		out[i] = sb.String()
	}
	return out
}

func (d *metaspaceDec) describe() string { return "Metaspace(" + quote(string(d.replacement)) + ")" }

// wordPieceDec joins WordPiece tokens: a token with the prefix continues the
// previous word, any other gets a space before it; cleanup undoes the spaces
// tokenization put before punctuation and contractions.
type wordPieceDec struct {
	prefix  string
	cleanup bool
}

func (d *wordPieceDec) decodeChain(t []string) []string {
	out := make([]string, len(t))
	for i, tok := range t {
		if i != 0 {
			if s, ok := strings.CutPrefix(tok, d.prefix); ok {
				tok = s
			} else {
				tok = " " + tok
			}
		}
		if d.cleanup {
			tok = wordPieceCleanup(tok)
		}
		out[i] = tok
	}
	return out
}

func (d *wordPieceDec) describe() string {
	return "WordPiece(prefix=" + quote(d.prefix) + ", cleanup=" + boolStr(d.cleanup) + ")"
}

// wordPieceCleanup is the Rust library's cleanup (wordpiece::cleanup).
func wordPieceCleanup(s string) string {
	for _, r := range [...][2]string{
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// cleanupReplacements are transformers' clean_up_tokenization (Python and
// JavaScript alike), in order; canonical tokenizer.json files express them
// as Replace decoders after a Fuse.
var cleanupReplacements = [...][2]string{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
	{" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// bpeDec replaces the end-of-word suffix by a space (nothing after the
// last token).
type bpeDec struct{ suffix string }

func (d *bpeDec) decodeChain(t []string) []string {
	out := make([]string, len(t))
	for i, tok := range t {
		rep := " "
		if i == len(t)-1 {
			rep = ""
		}
		out[i] = strings.ReplaceAll(tok, d.suffix, rep)
	}
	return out
}

func (d *bpeDec) describe() string { return "BPEDecoder(" + quote(d.suffix) + ")" }

// byteFallbackDec turns runs of <0xXX> tokens back into text: valid UTF-8
// as it is, otherwise one U+FFFD per byte.
type byteFallbackDec struct{}

func (byteFallbackDec) decodeChain(t []string) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, tok := range t {
		if b, ok := parseByteToken(tok); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, tok)
	}
	flush()
	return out
}

func (byteFallbackDec) describe() string { return "ByteFallback" }

// parseByteToken reads a "<0xAB>" token (hex digits of either case, as
// u8::from_str_radix accepts them).
func parseByteToken(tok string) (byte, bool) {
	if len(tok) != 6 || !strings.HasPrefix(tok, "<0x") || tok[5] != '>' {
		return 0, false
	}
	var v byte
	for _, c := range []byte(tok[3:5]) {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

// fuseDec joins all tokens into one.
type fuseDec struct{}

func (fuseDec) decodeChain(t []string) []string { return []string{strings.Join(t, "")} }
func (fuseDec) describe() string                { return "Fuse" }

// stripDec removes up to start leading and stop trailing occurrences of a
// character from every token.
type stripDec struct {
	content     rune
	start, stop int
}

func (d *stripDec) decodeChain(t []string) []string {
	out := make([]string, len(t))
	for i, tok := range t {
		rs := []rune(tok)
		startCut := 0
		for j := 0; j < d.start && j < len(rs); j++ {
			if rs[j] != d.content {
				break
			}
			startCut = j + 1
		}
		stopCut := len(rs)
		for j := 0; j < d.stop && j < len(rs); j++ {
			k := len(rs) - j - 1
			if rs[k] != d.content {
				break
			}
			stopCut = k
		}
		if stopCut < startCut {
			stopCut = startCut
		}
		out[i] = string(rs[startCut:stopCut])
	}
	return out
}

func (d *stripDec) describe() string { return "Strip(" + quote(string(d.content)) + ")" }

// replaceDec replaces a literal string in every token.
type replaceDec struct{ pattern, content string }

func (d *replaceDec) decodeChain(t []string) []string {
	out := make([]string, len(t))
	for i, tok := range t {
		out[i] = strings.ReplaceAll(tok, d.pattern, d.content)
	}
	return out
}

func (d *replaceDec) describe() string {
	return "Replace(" + quote(d.pattern) + " -> " + quote(d.content) + ")"
}

// ctcDec is the CTC decoder: consecutive duplicates collapse, the pad token
// disappears, cleanup turns the word delimiter into spaces.
type ctcDec struct {
	pad, delim string
	cleanup    bool
}

func (d *ctcDec) decodeChain(t []string) []string {
	var out []string
	for i, tok := range t {
		if i > 0 && tok == t[i-1] {
			continue
		}
		s := strings.ReplaceAll(tok, d.pad, "")
		if d.cleanup {
			s = strings.ReplaceAll(wordPieceCleanup(s), d.delim, " ")
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (d *ctcDec) describe() string { return "CTC" }
