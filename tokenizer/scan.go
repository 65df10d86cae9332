package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Split patterns. Hugging Face runs them with Oniguruma; real models ship a
// handful of them, and the ones whose `\s+(?!\S)` lookahead Go's regexp
// cannot express are recognised by their exact text and run by the
// hand-written scanners below, which implement the backtracking semantics of
// the regex alternative by alternative (see gptScan).

// span is one element of a pattern's find_matches result: a byte range of the
// searched text and whether it is a match (true) or the text between two
// matches (false). The spans cover the text in order.
type span struct {
	start, end int32
	match      bool
}

// pattern finds the matches of a split pattern and appends them, with the
// gaps between them, to dst.
type pattern interface {
	spans(s string, dst []span) []span
	String() string
}

// The patterns real tokenizers ship, byte for byte as they appear (decoded)
// in tokenizer.json.
const (
	// GPT-2, RoBERTa and every ByteLevel pre-tokenizer with use_regex.
	patGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// LLaMA 3 and tiktoken's cl100k_base.
	patCL100K = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Qwen 2 and 3: as cl100k_base, with single digits.
	patQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// GPT-4o and gpt-oss (tiktoken's o200k_base): case-aware words.
const patO200K = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// gptScan is a scanner for one of the GPT-style patterns.
type gptScan struct {
	text string
	// cl100k selects the cl100k/Qwen alternatives; false is GPT-2's.
	cl100k bool
	// o200k selects the o200k alternatives.
	o200k bool
	// maxDigits bounds \p{N}{1,maxDigits} (cl100k: 3, Qwen: 1).
	maxDigits int
}

func (g *gptScan) String() string { return g.text }

func (g *gptScan) spans(s string, dst []span) []span {
	for i := 0; i < len(s); {
		var end int
		switch {
		case g.o200k:
			end = o200kAt(s, i)
		case g.cl100k:
			end = g.cl100kAt(s, i)
		default:
			end = gpt2At(s, i)
		}
		dst = append(dst, span{int32(i), int32(end), true})
		i = end
	}
	return dst
}

// decodeAt returns the rune at s[i] and its length (s is valid UTF-8).
func decodeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isOtherClass(r rune) bool { return !isWhiteSpace(r) && !isLetter(r) && !isNumber(r) }

// runOf returns the end of the run of characters satisfying f that starts at i.
func runOf(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, n := decodeAt(s, i)
		if !f(r) {
			break
		}
		i += n
	}
	return i
}

// spaceTail implements `\s+(?!\S)|\s+` at i, where s[i] is white space: the
// run of white space, less its last character when a non-space follows and
// the run has more than one character.
func spaceTail(s string, i int) int {
	q, last := i, i
	for q < len(s) {
		r, n := decodeAt(s, q)
		if !isWhiteSpace(r) {
			break
		}
		last = q
		q += n
	}
	if q == len(s) || last == i {
		return q
	}
	return last
}

// contraction returns the length of a contraction ('s 't 're 've 'm 'll 'd)
// at s[i] == '\”, or 0. With fold, letters match case-insensitively under
// Unicode simple case folding (so 'ſ' matches s), as (?i:...) does.
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) {
		return 0
	}
	r1, n1 := decodeAt(s, i+1)
	if fold {
		r1 = foldContraction(r1)
	}
	switch r1 {
	case 's', 't', 'm', 'd':
		return 1 + n1
	case 'r', 'v', 'l':
		j := i + 1 + n1
		if j >= len(s) {
			return 0
		}
		r2, n2 := decodeAt(s, j)
		if fold {
			r2 = foldContraction(r2)
		}
		if (r1 == 'r' || r1 == 'v') && r2 == 'e' || r1 == 'l' && r2 == 'l' {
			return 1 + n1 + n2
		}
	}
	return 0
}

// foldContraction maps the characters that case-fold to the ASCII letters of
// the contractions onto those letters.
func foldContraction(r rune) rune {
	switch {
	case 'A' <= r && r <= 'Z':
		return r + 'a' - 'A'
	case r == 0x17F: // ſ, LATIN SMALL LETTER LONG S, folds to s
		return 's'
	}
	return r
}

// gpt2At returns the end of the GPT-2 pattern's match at i:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func gpt2At(s string, i int) int {
	r, n := decodeAt(s, i)
	if r == '\'' {
		if k := contraction(s, i, false); k > 0 {
			return i + k
		}
	}
	// ` ?X+` for X in L, N, other: the optional space is taken only when an
	// X follows it; a space itself is none of the three classes.
	p, rp := i, r
	if r == ' ' && i+1 < len(s) {
		p = i + 1
		rp, _ = decodeAt(s, p)
	}
	switch {
	case isLetter(rp):
		return runOf(s, p, isLetter)
	case isNumber(rp):
		return runOf(s, p, isNumber)
	case !isWhiteSpace(rp):
		return runOf(s, p, isOtherClass)
	}
	_ = n
	return spaceTail(s, i)
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// cl100kAt returns the end of the cl100k (or Qwen) pattern's match at i:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func (g *gptScan) cl100kAt(s string, i int) int {
	r, n := decodeAt(s, i)
	if r == '\'' {
		if k := contraction(s, i, true); k > 0 {
			return i + k
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return runOf(s, i, isLetter)
	}
	if !isCRLF(r) && !isNumber(r) && i+n < len(s) {
		if r2, _ := decodeAt(s, i+n); isLetter(r2) {
			return runOf(s, i+n, isLetter)
		}
	}
	// \p{N}{1,maxDigits}
	if isNumber(r) {
		j := i
		for k := 0; k < g.maxDigits && j < len(s); k++ {
			rj, nj := decodeAt(s, j)
			if !isNumber(rj) {
				break
			}
			j += nj
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	p, rp := i, r
	if r == ' ' && i+1 < len(s) {
		p = i + 1
		rp, _ = decodeAt(s, p)
	}
	if isOtherClass(rp) {
		j := runOf(s, p, isOtherClass)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	return crlfOrSpaceTail(s, i)
}

// crlfOrSpaceTail is `\s*[\r\n]+|\s+(?!\S)|\s+` at a white-space s[i]: up
// to and including the last \r or \n of the run of white space if it has
// one, else spaceTail.
func crlfOrSpaceTail(s string, i int) int {
	q, lastNL := i, -1
	for q < len(s) {
		rq, nq := decodeAt(s, q)
		if !isWhiteSpace(rq) {
			break
		}
		if rq == '\r' || rq == '\n' {
			lastNL = q
		}
		q += nq
	}
	if lastNL >= 0 {
		return lastNL + 1
	}
	return spaceTail(s, i)
}

// literal is a Split pattern given as a plain string: its occurrences,
// leftmost first, without overlap.
type literal struct{ lit string }

func (l *literal) String() string { return l.lit }

func (l *literal) spans(s string, dst []span) []span {
	prev := 0
	for i := 0; i < len(s); {
		k := strings.Index(s[i:], l.lit)
		if k < 0 {
			break
		}
		start := i + k
		end := start + len(l.lit)
		if prev != start {
			dst = append(dst, span{int32(prev), int32(start), false})
		}
		dst = append(dst, span{int32(start), int32(end), true})
		prev, i = end, end
	}
	if prev != len(s) {
		dst = append(dst, span{int32(prev), int32(len(s)), false})
	}
	return dst
}

// charSpans is the find_matches of a character predicate: every character
// that satisfies f is a match of its own.
func charSpans(s string, f func(rune) bool, dst []span) []span {
	last := 0
	for i := 0; i < len(s); {
		r, n := decodeAt(s, i)
		if f(r) {
			if last < i {
				dst = append(dst, span{int32(last), int32(i), false})
			}
			dst = append(dst, span{int32(i), int32(i + n), true})
			last = i + n
		}
		i += n
	}
	if last < len(s) {
		dst = append(dst, span{int32(last), int32(len(s)), false})
	}
	return dst
}

// splitBehavior is Hugging Face's SplitDelimiterBehavior.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

var behaviorNames = map[string]splitBehavior{
	"Removed":            behRemoved,
	"Isolated":           behIsolated,
	"MergedWithPrevious": behMergedWithPrevious,
	"MergedWithNext":     behMergedWithNext,
	"Contiguous":         behContiguous,
}

func (b splitBehavior) String() string {
	for k, v := range behaviorNames {
		if v == b {
			return k
		}
	}
	return "?"
}

// applyBehavior turns find_matches spans (in place) into the ranges of the
// pieces to keep, as NormalizedString::split does. Empty ranges are dropped
// by the caller.
func applyBehavior(sp []span, b splitBehavior, invert bool) []span {
	if invert {
		for i := range sp {
			sp[i].match = !sp[i].match
		}
	}
	out := sp[:0]
	switch b {
	case behIsolated:
		return sp
	case behRemoved:
		for _, x := range sp {
			if !x.match {
				out = append(out, x)
			}
		}
		return out
	case behContiguous:
		prev := false
		for _, x := range sp {
			if x.match == prev && len(out) > 0 {
				out[len(out)-1].end = x.end
			} else {
				out = append(out, span{x.start, x.end, false})
			}
			prev = x.match
		}
		return out
	case behMergedWithPrevious:
		prev := false
		for _, x := range sp {
			if x.match && !prev && len(out) > 0 {
				out[len(out)-1].end = x.end
			} else {
				out = append(out, span{x.start, x.end, false})
			}
			prev = x.match
		}
		return out
	case behMergedWithNext:
		// Rust folds from the right: a match that follows a non-match (seen
		// from the right, i.e. a match followed by a non-match in reading
		// order... ) is merged into the piece after it.
		n := len(sp)
		tmp := make([]span, 0, n)
		prev := false
		for i := n - 1; i >= 0; i-- {
			x := sp[i]
			if x.match && !prev && len(tmp) > 0 {
				tmp[len(tmp)-1].start = x.start
			} else {
				tmp = append(tmp, span{x.start, x.end, false})
			}
			prev = x.match
		}
		for i := len(tmp) - 1; i >= 0; i-- {
			out = append(out, tmp[i])
		}
		return out
	}
	return sp
}

// o200k's letter classes: upper-ish [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and
// lower-ish [\p{Ll}\p{Lm}\p{Lo}\p{M}] (Lm, Lo and marks are in both).
func isUpperish(r rune) bool {
	if r < 128 {
		return 'A' <= r && r <= 'Z'
	}
	return unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M)
}

func isLowerish(r rune) bool {
	if r < 128 {
		return 'a' <= r && r <= 'z'
	}
	return unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M)
}

// isWordPrefix is [^\r\n\p{L}\p{N}].
func isWordPrefix(r rune) bool { return !isCRLF(r) && !isLetter(r) && !isNumber(r) }

// withContraction extends a match ending at e by an optional contraction.
func withContraction(s string, e int) int {
	if e < len(s) && s[e] == '\'' {
		return e + contraction(s, e, true)
	}
	return e
}

// o200kWord1 is [U]*[W]+C? at j (U upper-ish, W lower-ish, C a
// contraction), as a backtracking engine finds it: U* takes the longest run,
// gives characters back until W+ can start, W+ takes the longest run.
func o200kWord1(s string, j int) (int, bool) {
	k := runOf(s, j, isUpperish)
	if k < len(s) {
		if r, _ := decodeAt(s, k); isLowerish(r) {
			return withContraction(s, runOf(s, k, isLowerish)), true
		}
	}
	// Give back the run: the last character of it that is also lower-ish
	// starts W+, which then ends after it (what follows it is not W).
	for p := k; p > j; {
		r, n := lastRune(s[:p])
		p -= n
		if isLowerish(r) {
			return withContraction(s, p+n), true
		}
	}
	return 0, false
}

// o200kWord2 is [U]+[W]*C? at j.
func o200kWord2(s string, j int) (int, bool) {
	k := runOf(s, j, isUpperish)
	if k == j {
		return 0, false
	}
	return withContraction(s, runOf(s, k, isLowerish)), true
}

// o200kAt returns the end of the o200k pattern's match at i (patO200K).
func o200kAt(s string, i int) int {
	r, n := decodeAt(s, i)
	pre := isWordPrefix(r) && i+n < len(s)
	for _, word := range [...]func(string, int) (int, bool){o200kWord1, o200kWord2} {
		if pre {
			if e, ok := word(s, i+n); ok {
				return e
			}
		}
		if e, ok := word(s, i); ok {
			return e
		}
	}
	if isNumber(r) {
		j := i
		for k := 0; k < 3 && j < len(s); k++ {
			rj, nj := decodeAt(s, j)
			if !isNumber(rj) {
				break
			}
			j += nj
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
	p, rp := i, r
	if r == ' ' && i+1 < len(s) {
		p = i + 1
		rp, _ = decodeAt(s, p)
	}
	if isOtherClass(rp) {
		j := runOf(s, p, isOtherClass)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n' || s[j] == '/') {
			j++
		}
		return j
	}
	return crlfOrSpaceTail(s, i)
}
