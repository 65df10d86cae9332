package tokenizer

import "unicode/utf8"

// wordPiece is the WordPiece model: greedy longest-match-first against the
// vocabulary, continuation pieces carrying a prefix ("##"), and the unknown
// token for a word that has no split or is longer than maxChars characters.
type wordPiece struct {
	vocab    map[string]int32
	unk      int32
	prefix   string
	maxChars int
	// lens are the byte lengths of the vocabulary's tokens, longest first.
	// The greedy search tries the end positions from the longest down; only
	// a substring whose length (with the prefix) is a token's length can
	// match, so only those are looked up: the same result as trying every
	// end position, with work bounded by the number of distinct lengths.
	lens []int
}

func (m *wordPiece) encodeWord(st *state, p piece, dst []int64) []int64 {
	w := p.s
	if w == "" {
		return dst
	}
	if utf8.RuneCountInString(w) > m.maxChars {
		return append(dst, int64(m.unk))
	}
	mark := len(dst)
	for start := 0; start < len(w); {
		extra := 0
		if start > 0 {
			extra = len(m.prefix)
		}
		found, end := int32(-1), 0
		for _, n := range m.lens {
			e := start + n - extra
			if n < extra || e <= start || e > len(w) || (e < len(w) && !utf8.RuneStart(w[e])) {
				continue
			}
			var id int32
			var ok bool
			if start > 0 {
				b := append(st.key[:0], m.prefix...)
				b = append(b, w[start:e]...)
				st.key = b
				id, ok = m.vocab[string(b)]
			} else {
				id, ok = m.vocab[w[start:e]]
			}
			if ok {
				found, end = id, e
				break
			}
		}
		if found < 0 {
			return append(dst[:mark], int64(m.unk))
		}
		dst = append(dst, int64(found))
		start = end
	}
	return dst
}

// wordLevel maps every pre-token to its id, or to the unknown token.
type wordLevel struct {
	vocab map[string]int32
	unk   int32
}

func (m *wordLevel) encodeWord(st *state, p piece, dst []int64) []int64 {
	if p.s == "" {
		return dst
	}
	if id, ok := m.vocab[p.s]; ok {
		return append(dst, int64(id))
	}
	return append(dst, int64(m.unk))
}
