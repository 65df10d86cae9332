package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// piece is one pre-token: its text and whether it starts at offset 0 of the
// original input (what Metaspace's prepend_scheme "first" asks).
type piece struct {
	s       string
	atStart bool
	// raw marks a piece whose byte-level mapping (ByteLevel's byte -> char)
	// was deferred to the model: s holds the bytes themselves.
	raw bool
}

// A preTokenizer splits pieces into smaller pieces (and may rewrite them).
// It appends its output for in to out and returns it.
type preTokenizer interface {
	split(st *state, in []piece, out []piece) []piece
	describe() string
}

type preSequence struct{ list []preTokenizer }

func (p *preSequence) split(st *state, in []piece, out []piece) []piece {
	// Steps alternate between out and the state's spare buffer; whichever
	// does not hold the result becomes the spare again.
	bufs := [2][]piece{out, st.spare[:0]}
	cur := in
	for i, x := range p.list {
		k := i % 2
		bufs[k] = x.split(st, cur, bufs[k][:0])
		cur = bufs[k]
	}
	if len(p.list)%2 == 1 {
		st.spare = bufs[1][:0]
	} else {
		st.spare = bufs[0][:0]
	}
	return cur
}

func (p *preSequence) describe() string {
	parts := make([]string, len(p.list))
	for i, x := range p.list {
		parts[i] = x.describe()
	}
	return "Sequence[" + strings.Join(parts, ", ") + "]"
}

// splitWith cuts every piece along the spans that find gives for it, with
// the behaviour b, dropping empty results.
func splitWith(st *state, in []piece, out []piece, b splitBehavior, invert bool, pat pattern) []piece {
	for _, p := range in {
		if p.s == "" {
			continue
		}
		sp := pat.spans(p.s, st.spans[:0])
		sp = applyBehavior(sp, b, invert)
		for _, x := range sp {
			if x.end > x.start {
				out = append(out, piece{s: p.s[x.start:x.end], atStart: p.atStart && x.start == 0, raw: p.raw})
			}
		}
		st.spans = sp[:0]
	}
	return out
}

// splitPre is the Split pre-tokenizer.
type splitPre struct {
	pat      pattern
	behavior splitBehavior
	invert   bool
}

func (p *splitPre) split(st *state, in []piece, out []piece) []piece {
	return splitWith(st, in, out, p.behavior, p.invert, p.pat)
}

func (p *splitPre) describe() string {
	inv := ""
	if p.invert {
		inv = ", invert"
	}
	return "Split(" + quote(p.pat.String()) + ", " + p.behavior.String() + inv + ")"
}

// byteLevelPre is the ByteLevel pre-tokenizer: an optional prefix space, the
// GPT-2 split, then every byte mapped to its printable character. When
// deferMap is set (ByteLevel is the last pre-tokenizer and the model is a
// byte-level BPE), the mapping is left to the model, which works on the bytes.
type byteLevelPre struct {
	addPrefixSpace, useRegex bool
	deferMap                 bool
}

var gpt2Pattern = &gptScan{text: patGPT2}

func (p *byteLevelPre) split(st *state, in []piece, out []piece) []piece {
	if p.addPrefixSpace {
		for i := range in {
			if in[i].s != "" && in[i].s[0] != ' ' {
				b := st.begin()
				b = append(b, ' ')
				b = append(b, in[i].s...)
				in[i].s = st.end(b)
			}
		}
	}
	start := len(out)
	if p.useRegex {
		out = splitWith(st, in, out, behIsolated, false, gpt2Pattern)
	} else {
		for _, x := range in {
			if x.s != "" {
				out = append(out, x)
			}
		}
	}
	for i := start; i < len(out); i++ {
		if p.deferMap {
			out[i].raw = true
			continue
		}
		b := st.begin()
		for j := 0; j < len(out[i].s); j++ {
			b = append(b, byteCharUTF8[out[i].s[j]]...)
		}
		out[i].s = st.end(b)
	}
	return out
}

func (p *byteLevelPre) describe() string {
	return "ByteLevel(add_prefix_space=" + boolStr(p.addPrefixSpace) + ", use_regex=" + boolStr(p.useRegex) + ")"
}

// prependScheme is Metaspace's prepend_scheme.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspacePre replaces spaces by the replacement character, prepends one
// to pieces as its scheme says, and splits before each replacement.
type metaspacePre struct {
	replacement rune
	rep         string
	scheme      prependScheme
	splitOn     bool
}

func (p *metaspacePre) split(st *state, in []piece, out []piece) []piece {
	for _, x := range in {
		if x.s == "" {
			continue
		}
		s := x.s
		if strings.IndexByte(s, ' ') >= 0 {
			b := st.begin()
			for i := 0; i < len(s); i++ {
				if s[i] == ' ' {
					b = append(b, p.rep...)
				} else {
					b = append(b, s[i])
				}
			}
			s = st.end(b)
		}
		if (p.scheme == prependAlways || p.scheme == prependFirst && x.atStart) && !strings.HasPrefix(s, p.rep) {
			b := st.begin()
			b = append(b, p.rep...)
			b = append(b, s...)
			s = st.end(b)
		}
		if !p.splitOn {
			out = append(out, piece{s: s, atStart: x.atStart})
			continue
		}
		// MergedWithNext on the replacement character: each piece starts
		// at a replacement (the first one may not).
		start := 0
		for i := 0; i < len(s); {
			r, n := decodeAt(s, i)
			if r == p.replacement && i > start {
				out = append(out, piece{s: s[start:i], atStart: x.atStart && start == 0})
				start = i
			}
			i += n
		}
		if start < len(s) {
			out = append(out, piece{s: s[start:], atStart: x.atStart && start == 0})
		}
	}
	return out
}

func (p *metaspacePre) describe() string {
	scheme := [...]string{"always", "first", "never"}[p.scheme]
	return "Metaspace(replacement=" + quote(p.rep) + ", prepend_scheme=" + scheme + ", split=" + boolStr(p.splitOn) + ")"
}

// whitespacePre is the Whitespace pre-tokenizer: the matches of
// \w+|[^\w\s]+ are kept, white space is dropped.
type whitespacePre struct{}

func (whitespacePre) split(st *state, in []piece, out []piece) []piece {
	for _, x := range in {
		s := x.s
		for i := 0; i < len(s); {
			r, n := decodeAt(s, i)
			var end int
			switch {
			case isWord(r):
				end = runOf(s, i, isWord)
			case !isWhiteSpace(r):
				end = runOf(s, i, func(r rune) bool { return !isWord(r) && !isWhiteSpace(r) })
			default:
				i += n
				continue
			}
			out = append(out, piece{s: s[i:end], atStart: x.atStart && i == 0})
			i = end
		}
	}
	return out
}

func (whitespacePre) describe() string { return "Whitespace" }

// charSplitPre splits on every character that satisfies pred, with a
// behaviour: WhitespaceSplit, Digits, Punctuation, CharDelimiterSplit.
type charSplitPre struct {
	name     string
	pred     func(rune) bool
	behavior splitBehavior
}

func (p *charSplitPre) split(st *state, in []piece, out []piece) []piece {
	return splitWith(st, in, out, p.behavior, false, p)
}

func (p *charSplitPre) spans(s string, dst []span) []span { return charSpans(s, p.pred, dst) }
func (p *charSplitPre) String() string                    { return p.name }

func (p *charSplitPre) describe() string { return p.name }

// bertPre is BertPreTokenizer: split on white space (removed), then isolate
// every punctuation character.
type bertPre struct{}

func (bertPre) split(st *state, in []piece, out []piece) []piece {
	for _, x := range in {
		s := x.s
		for i := 0; i < len(s); {
			r, n := decodeAt(s, i)
			if isWhiteSpace(r) {
				i += n
				continue
			}
			if isPunct(r) {
				out = append(out, piece{s: s[i : i+n], atStart: x.atStart && i == 0})
				i += n
				continue
			}
			end := runOf(s, i, func(r rune) bool { return !isWhiteSpace(r) && !isPunct(r) })
			out = append(out, piece{s: s[i:end], atStart: x.atStart && i == 0})
			i = end
		}
	}
	return out
}

func (bertPre) describe() string { return "BertPreTokenizer" }

// The GPT-2 byte <-> character tables (bytes_to_unicode).
var (
	byteChar     [256]rune
	byteCharUTF8 [256]string
	charByte     = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
		byteCharUTF8[b] = string(utf8.AppendRune(nil, byteChar[b]))
		charByte[byteChar[b]] = byte(b)
	}
}
