package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A normalizer rewrites the text of one segment (the text between two added
// tokens) before pre-tokenization. Results are allocated in the state's
// arena.
type normalizer interface {
	normalize(st *state, s string) string
	describe() string
}

type normSequence struct{ list []normalizer }

func (n *normSequence) normalize(st *state, s string) string {
	for _, x := range n.list {
		s = x.normalize(st, s)
	}
	return s
}

func (n *normSequence) describe() string {
	parts := make([]string, len(n.list))
	for i, x := range n.list {
		parts[i] = x.describe()
	}
	return "Sequence[" + strings.Join(parts, ", ") + "]"
}

// unicodeForm is NFC, NFD, NFKC or NFKD.
type unicodeForm struct {
	form norm.Form
	name string
}

func (n *unicodeForm) normalize(st *state, s string) string {
	if n.form.QuickSpanString(s) == len(s) {
		return s
	}
	return appendForm(st, n.form, s)
}

// appendForm normalizes s to form f in the arena, through the state's
// iterator (norm.Form.AppendString allocates a buffer per call).
func appendForm(st *state, f norm.Form, s string) string {
	b := st.begin()
	st.iter.InitString(f, s)
	for !st.iter.Done() {
		b = append(b, st.iter.Next()...)
	}
	return st.end(b)
}

func (n *unicodeForm) describe() string { return n.name }

// lowercase maps every character to its lowercase form, character by
// character (Rust's char::to_lowercase).
type lowercase struct{}

func (lowercase) normalize(st *state, s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := st.begin()
	for _, r := range s {
		b = appendLower(b, r)
	}
	return st.end(b)
}

func (lowercase) describe() string { return "Lowercase" }

// replace replaces every occurrence of a literal string, leftmost first,
// without overlap.
type replace struct{ pattern, content string }

func (n *replace) normalize(st *state, s string) string {
	if !strings.Contains(s, n.pattern) {
		return s
	}
	b := st.begin()
	for {
		k := strings.Index(s, n.pattern)
		if k < 0 {
			break
		}
		b = append(b, s[:k]...)
		b = append(b, n.content...)
		s = s[k+len(n.pattern):]
	}
	b = append(b, s...)
	return st.end(b)
}

func (n *replace) describe() string {
	return "Replace(" + quote(n.pattern) + " -> " + quote(n.content) + ")"
}

// prepend adds a prefix to every non-empty segment.
type prepend struct{ prefix string }

func (n *prepend) normalize(st *state, s string) string {
	if s == "" {
		return s
	}
	b := st.begin()
	b = append(b, n.prefix...)
	b = append(b, s...)
	return st.end(b)
}

func (n *prepend) describe() string { return "Prepend(" + quote(n.prefix) + ")" }

// strip removes leading and/or trailing white space.
type strip struct{ left, right bool }

func (n *strip) normalize(st *state, s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, isWhiteSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, isWhiteSpace)
	}
	return s
}

func (n *strip) describe() string {
	return "Strip(left=" + boolStr(n.left) + ", right=" + boolStr(n.right) + ")"
}

// stripAccents removes every combining mark (Mn, Mc, Me); it does not
// decompose first (pair it with NFD or NFKD, as real tokenizers do).
type stripAccents struct{}

func (stripAccents) normalize(st *state, s string) string {
	return filterRunes(st, s, func(r rune) bool { return !unicode.IsMark(r) })
}

func (stripAccents) describe() string { return "StripAccents" }

func filterRunes(st *state, s string, keep func(rune) bool) string {
	i := 0
	for i < len(s) {
		r, n := decodeAt(s, i)
		if !keep(r) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	b := st.begin()
	b = append(b, s[:i]...)
	for _, r := range s[i:] {
		if keep(r) {
			b = utf8.AppendRune(b, r)
		}
	}
	return st.end(b)
}

// byteLevelNorm maps every byte to its GPT-2 printable character.
type byteLevelNorm struct{}

func (byteLevelNorm) normalize(st *state, s string) string {
	if s == "" {
		return s
	}
	b := st.begin()
	for i := 0; i < len(s); i++ {
		b = append(b, byteCharUTF8[s[i]]...)
	}
	return st.end(b)
}

func (byteLevelNorm) describe() string { return "ByteLevel" }

// bertNormalizer is BertNormalizer, as the Rust library runs it: clean_text
// (drop NUL, U+FFFD and "other" characters except \t \n \r; white space
// becomes ' '), handle_chinese_chars (CJK ideographs, supplementary planes
// included, get a space on each side), strip_accents (NFD, then drop Mn;
// defaults to lowercase), lowercase (character by character).
type bertNormalizer struct {
	cleanText, chinese, stripAccents, lowercase bool
}

func (n *bertNormalizer) normalize(st *state, s string) string {
	if n.cleanText {
		s = n.clean(st, s)
	}
	if n.chinese {
		s = chineseChars(st, s)
	}
	if n.stripAccents {
		if norm.NFD.QuickSpanString(s) != len(s) {
			s = appendForm(st, norm.NFD, s)
		}
		s = filterRunes(st, s, func(r rune) bool { return r < 0x300 || !unicode.Is(unicode.Mn, r) })
	}
	if n.lowercase {
		s = lowercase{}.normalize(st, s)
	}
	return s
}

func (n *bertNormalizer) clean(st *state, s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || c < ' ' || c == 0x7F {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := st.begin()
	for _, r := range s {
		if r == 0 || r == 0xFFFD {
			continue
		}
		if r != '\t' && r != '\n' && r != '\r' && isOther(r) {
			continue
		}
		if isWhiteSpace(r) {
			b = append(b, ' ')
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	return st.end(b)
}

func chineseChars(st *state, s string) string {
	i := 0
	for ; i < len(s); i++ {
		if s[i] >= 0xE3 {
			break
		}
	}
	if i == len(s) {
		return s
	}
	found := false
	for _, r := range s[i:] {
		if isChineseChar(r) {
			found = true
			break
		}
	}
	if !found {
		return s
	}
	b := st.begin()
	for _, r := range s {
		if isChineseChar(r) {
			b = append(b, ' ')
			b = utf8.AppendRune(b, r)
			b = append(b, ' ')
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return st.end(b)
}

func (n *bertNormalizer) describe() string {
	return "BertNormalizer(clean_text=" + boolStr(n.cleanText) + ", handle_chinese_chars=" + boolStr(n.chinese) +
		", strip_accents=" + boolStr(n.stripAccents) + ", lowercase=" + boolStr(n.lowercase) + ")"
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
