package tokenizer

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	id         int32
	content    string
	special    bool
	lstrip     bool
	rstrip     bool
	singleWord bool
	normalized bool
	// pattern is what is matched: content, or for a normalized token the
	// content passed through the normalizer.
	pattern string
}

// matcher finds added tokens in text: leftmost match first, and at that
// position the longest, without overlap (Hugging Face builds an Aho-Corasick
// automaton with MatchKind::LeftmostLongest; this walks a byte trie from each
// position that can start a token, so its work is the text length times the
// longest token at most).
type matcher struct {
	toks  []*addedToken
	first [256]bool
	edges map[uint64]int32 // node<<8|byte -> child node
	term  []int32          // node -> index in toks, or -1
}

func newMatcher(toks []*addedToken) *matcher {
	if len(toks) == 0 {
		return nil
	}
	m := &matcher{toks: toks, edges: map[uint64]int32{}, term: []int32{-1}}
	for i, t := range toks {
		if t.pattern == "" {
			continue
		}
		m.first[t.pattern[0]] = true
		node := int32(0)
		for j := 0; j < len(t.pattern); j++ {
			k := uint64(node)<<8 | uint64(t.pattern[j])
			child, ok := m.edges[k]
			if !ok {
				child = int32(len(m.term))
				m.term = append(m.term, -1)
				m.edges[k] = child
			}
			node = child
		}
		if m.term[node] < 0 {
			m.term[node] = int32(i)
		}
	}
	return m
}

// find returns the next match at or after from: its byte range and token.
func (m *matcher) find(s string, from int) (start, end int, tok *addedToken) {
	for p := from; p < len(s); p++ {
		if !m.first[s[p]] {
			continue
		}
		node, best := int32(0), -1
		bestTok := int32(-1)
		for j := p; j < len(s); j++ {
			child, ok := m.edges[uint64(node)<<8|uint64(s[j])]
			if !ok {
				break
			}
			node = child
			if m.term[node] >= 0 {
				best, bestTok = j+1, m.term[node]
			}
		}
		if best > 0 {
			return p, best, m.toks[bestTok]
		}
	}
	return -1, -1, nil
}

// segment is a part of the text: plain text (tok == nil) or an added token.
type segment struct {
	s     string
	start int // byte offset in the string it was cut from
	tok   *addedToken
}

// splitAdded cuts s around the added tokens that m finds, with the
// single_word, lstrip and rstrip rules of AddedVocabulary::find_matches.
func splitAdded(m *matcher, s string, out []segment) []segment {
	if m == nil || s == "" {
		return append(out, segment{s: s})
	}
	startOffset := 0
	for from := 0; from < len(s); {
		start, stop, tok := m.find(s, from)
		if tok == nil {
			break
		}
		from = stop
		if tok.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if tok.lstrip {
			ns := start
			for ns > 0 {
				r, n := lastRune(s[:ns])
				if !isWhiteSpace(r) {
					break
				}
				ns -= n
			}
			start = max(ns, startOffset)
		}
		if tok.rstrip {
			for stop < len(s) {
				r, n := decodeAt(s, stop)
				if !isWhiteSpace(r) {
					break
				}
				stop += n
			}
			// The search goes on after the match itself, as Hugging Face's
			// match iterator does, not after the stripped space.
		}
		if startOffset < start {
			out = append(out, segment{s: s[startOffset:start], start: startOffset})
		}
		out = append(out, segment{s: s[start:stop], start: start, tok: tok})
		startOffset = stop
	}
	if startOffset != len(s) {
		out = append(out, segment{s: s[startOffset:], start: startOffset})
	}
	return out
}

func endsWithWord(s string) bool {
	if s == "" {
		return false
	}
	r, _ := lastRune(s)
	return isWord(r)
}

func startsWithWord(s string) bool {
	if s == "" {
		return false
	}
	r, _ := decodeAt(s, 0)
	return isWord(r)
}

func lastRune(s string) (rune, int) {
	i := len(s) - 1
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	r, n := decodeAt(s, i)
	return r, n
}
