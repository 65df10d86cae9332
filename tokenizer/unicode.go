package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Character classes used by the pipeline. They follow the definitions of the
// Rust tokenizers library (and of Oniguruma, the regex engine it runs split
// patterns with), evaluated with Go's Unicode tables (unicode.Version).

// ASCII class bits, so that the common case is one table load.
const (
	clsSpace  = 1 << iota // White_Space
	clsLetter             // \p{L}
	clsNumber             // \p{N}
	clsWord               // regex \w: Alphabetic, Mark, Nd, Pc, Join_Control
	clsPunct              // Rust is_ascii_punctuation || is_punctuation
)

var asciiClass [128]uint8

func init() {
	for c := 0; c < 128; c++ {
		r := rune(c)
		var k uint8
		if isWhiteSpaceSlow(r) {
			k |= clsSpace
		}
		if unicode.IsLetter(r) {
			k |= clsLetter
		}
		if unicode.IsNumber(r) {
			k |= clsNumber
		}
		if isWordSlow(r) {
			k |= clsWord
		}
		if isPunctSlow(r) {
			k |= clsPunct
		}
		asciiClass[c] = k
	}
}

// isWhiteSpace reports the Unicode White_Space property: Rust's
// char::is_whitespace, Oniguruma's and Rust regex's \s.
func isWhiteSpace(r rune) bool {
	if r < 128 {
		return asciiClass[r]&clsSpace != 0
	}
	return isWhiteSpaceSlow(r)
}

func isWhiteSpaceSlow(r rune) bool { return unicode.IsSpace(r) }

// isLetter is \p{L}.
func isLetter(r rune) bool {
	if r < 128 {
		return asciiClass[r]&clsLetter != 0
	}
	return unicode.IsLetter(r)
}

// isNumber is \p{N} (Rust's char::is_numeric).
func isNumber(r rune) bool {
	if r < 128 {
		return asciiClass[r]&clsNumber != 0
	}
	return unicode.IsNumber(r)
}

// isWord is the Unicode \w of the Rust regex crate: Alphabetic, Mark,
// Decimal_Number, Connector_Punctuation and Join_Control.
func isWord(r rune) bool {
	if r < 128 {
		return asciiClass[r]&clsWord != 0
	}
	return isWordSlow(r)
}

func isWordSlow(r rune) bool {
	return isAlphabetic(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

// isAlphabetic is the Unicode Alphabetic property: L, Nl and Other_Alphabetic.
func isAlphabetic(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r)
}

// isPunct is what BertPreTokenizer and Punctuation split on: ASCII
// punctuation (which includes the ASCII symbols $+<=>^`|~) or a character of a
// P* category.
func isPunct(r rune) bool {
	if r < 128 {
		return asciiClass[r]&clsPunct != 0
	}
	return unicode.IsPunct(r)
}

func isPunctSlow(r rune) bool {
	if r < 128 && r > ' ' && r < 127 && !('0' <= r && r <= '9') && !('a' <= r && r <= 'z') && !('A' <= r && r <= 'Z') {
		return true
	}
	return unicode.IsPunct(r)
}

// isOther is Rust's UnicodeCategories::is_other: Cc, Cf, Cn (unassigned
// code points and noncharacters), Co and Cs. Go's unicode.C holds all five.
func isOther(r rune) bool { return unicode.In(r, unicode.C) }

// isChineseChar is BERT's CJK ideograph test (code points, including the
// supplementary planes).
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// lowerRune appends the lowercase mapping of r as Rust's char::to_lowercase
// gives it: the simple mapping, except U+0130 (capital I with dot above),
// whose unconditional full mapping is "i" + U+0307. A final capital sigma
// becomes σ (Rust maps characters one by one, without context).
func appendLower(dst []byte, r rune) []byte {
	if r < 128 {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(dst, byte(r))
	}
	if r == 0x130 {
		return append(dst, 'i', 0xCC, 0x87)
	}
	return utf8.AppendRune(dst, unicode.ToLower(r))
}

// sanitizeUTF8 returns s with every ill-formed UTF-8 sequence replaced by
// U+FFFD, one replacement per maximal subpart (the WHATWG rule, which Rust's
// String::from_utf8_lossy and Python's errors="replace" follow). A valid s is
// returned as it is, without copying.
func sanitizeUTF8(dst []byte, s string) (string, []byte) {
	if utf8.ValidString(s) {
		return s, dst
	}
	dst = dst[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, s[i:i+n]...)
			i += n
			continue
		}
		i += maximalSubpart(s[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return string(dst), dst
}

// maximalSubpart returns the length (at least 1) of the longest prefix of s
// that starts a well-formed UTF-8 sequence but does not complete one.
func maximalSubpart(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(s); k++ {
		b := s[n]
		if k == 0 {
			if b < lo || b > hi {
				return n
			}
		} else if b < 0x80 || b > 0xBF {
			return n
		}
		n++
	}
	return n
}
