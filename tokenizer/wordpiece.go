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
	// maxLen is the longest token in bytes: no longer substring can match, so
	// the search starts there (the result is the same as starting at the end
	// of the word, the work is linear in the word's length).
	maxLen int
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
		end := len(w)
		limit := m.maxLen
		if start > 0 {
			limit -= len(m.prefix)
		}
		if end-start > limit {
			end = start + max(limit, 0)
			for end > start && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		found := int32(-1)
		for end > start {
			var id int32
			var ok bool
			if start > 0 {
				b := append(st.key[:0], m.prefix...)
				b = append(b, w[start:end]...)
				st.key = b
				id, ok = m.vocab[string(b)]
			} else {
				id, ok = m.vocab[w[start:end]]
			}
			if ok {
				found = id
				break
			}
			_, n := utf8.DecodeLastRuneInString(w[start:end])
			end -= n
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
