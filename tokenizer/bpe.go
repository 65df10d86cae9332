package tokenizer

import "strings"

// bpe is the BPE model: a vocabulary, ranked merges, and the options of Hugging
// Face's BPE (unk_token, fuse_unk, byte_fallback, continuing_subword_prefix,
// end_of_word_suffix, ignore_merges).
type bpe struct {
	vocab map[string]int32
	// merges maps the pair (left id, right id), packed as left<<32|right, to
	// its rank (its line in the merges list) and the id of the merged token,
	// packed as rank<<32|id.
	merges       map[uint64]uint64
	unk          int32 // -1 without unk_token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	byteTok      [256]int32

	// Byte-level mode (the ByteLevel pre-tokenizer feeds raw bytes): the id of
	// each byte's printable character, and for ignore_merges the vocabulary
	// keyed by the bytes its tokens stand for.
	byteLevel bool
	byteID    [256]int32
	rawVocab  map[string]int32
}

// sym is one symbol of a word being merged: Rust's Symbol, with the byte
// length reduced to a live flag.
type sym struct {
	id         int32
	prev, next int32
	live       bool
}

// mergeItem is a candidate merge in the priority queue: lowest rank first,
// then leftmost position, as in Hugging Face's Word::merge_all.
type mergeItem struct {
	rank  uint32
	pos   int32
	newID int32
}

func (a mergeItem) less(b mergeItem) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// Words up to cacheWordLen bytes keep their ids in the state's cache (at
// most cacheWords of them; Hugging Face caches 10,000 words per thread).
const (
	cacheWordLen = 64
	cacheWords   = 10000
)

// encodeWord appends the ids of one pre-token to dst.
func (m *bpe) encodeWord(st *state, p piece, dst []int64) []int64 {
	w := p.s
	if w == "" {
		return dst
	}
	if len(w) > cacheWordLen {
		return m.encodeUncached(st, p, dst)
	}
	if v, ok := st.cache[w]; ok {
		for _, id := range st.cacheIDs[v>>8 : v>>8+v&0xFF] {
			dst = append(dst, int64(id))
		}
		return dst
	}
	mark := len(dst)
	dst = m.encodeUncached(st, p, dst)
	if n := len(dst) - mark; n < 256 {
		if st.cache == nil || len(st.cache) >= cacheWords {
			st.cache = make(map[string]uint32, 1024)
			st.cacheIDs = st.cacheIDs[:0]
		}
		// w may be a string in the state's arena, which the next call
		// overwrites: the key must be a copy (string(w) of a string is not).
		st.cache[strings.Clone(w)] = uint32(len(st.cacheIDs))<<8 | uint32(n)
		for _, id := range dst[mark:] {
			st.cacheIDs = append(st.cacheIDs, int32(id))
		}
	}
	return dst
}

func (m *bpe) encodeUncached(st *state, p piece, dst []int64) []int64 {
	w := p.s
	if p.raw {
		if m.ignoreMerges {
			if id, ok := m.rawVocab[w]; ok {
				return append(dst, int64(id))
			}
		}
		syms := st.syms[:0]
		for i := 0; i < len(w); i++ {
			syms = append(syms, sym{id: m.byteID[w[i]], prev: int32(i - 1), next: int32(i + 1), live: true})
		}
		syms[len(syms)-1].next = -1
		st.syms = syms
		return m.mergeAll(st, dst)
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(dst, int64(id))
		}
	}
	syms := st.syms[:0]
	add := func(id int32) {
		n := int32(len(syms))
		if n > 0 {
			syms[n-1].next = n
		}
		syms = append(syms, sym{id: id, prev: n - 1, next: -1, live: true})
	}
	unkID, unkPending := int32(-1), false
	for i := 0; i < len(w); {
		_, n := decodeAt(w, i)
		isFirst, isLast := i == 0, i+n == len(w)
		key := w[i : i+n]
		if !isFirst && m.prefix != "" || isLast && m.suffix != "" {
			b := st.key[:0]
			if !isFirst {
				b = append(b, m.prefix...)
			}
			b = append(b, w[i:i+n]...)
			if isLast {
				b = append(b, m.suffix...)
			}
			st.key = b
			key = string(b) // only used as a map key below (and for byte fallback)
		}
		i += n
		if id, ok := m.vocab[key]; ok {
			if unkPending {
				add(unkID)
				unkPending = false
			}
			add(id)
			continue
		}
		if m.byteFallback {
			ok := true
			for j := 0; j < len(key); j++ {
				if m.byteTok[key[j]] < 0 {
					ok = false
					break
				}
			}
			if ok {
				for j := 0; j < len(key); j++ {
					add(m.byteTok[key[j]])
				}
				continue
			}
		}
		if m.unk >= 0 {
			if unkPending && !m.fuseUnk {
				add(unkID)
			}
			unkID, unkPending = m.unk, true
		}
	}
	if unkPending {
		add(unkID)
	}
	if len(syms) == 0 {
		return dst
	}
	st.syms = syms
	return m.mergeAll(st, dst)
}

// smallWord is the length up to which mergeAll scans for the best pair
// instead of keeping a priority queue.
const smallWord = 48

// mergeSmallMax is smallWord; tests lower it to run every word through the
// priority queue.
var mergeSmallMax = smallWord

// mergeAll applies the merges to st.syms and appends the resulting ids.
//
// Hugging Face's Word::merge_all keeps a priority queue of candidate merges
// (lowest rank, then leftmost) and skips a popped candidate unless the pair
// at its position still merges into the same token. Token strings grow with
// every merge and ids are unique, so that check passes exactly when the pair
// is the one the candidate was made for: the result is that of repeatedly
// merging the lowest-ranked adjacent pair, leftmost first. Short words do
// that directly (a scan per merge, two map lookups per merge); longer ones use
// the queue, O(n log n) in the word's length.
func (m *bpe) mergeAll(st *state, dst []int64) []int64 {
	syms := st.syms
	if len(syms) == 1 {
		return append(dst, int64(syms[0].id))
	}
	if len(syms) <= mergeSmallMax {
		return m.mergeSmall(st, dst)
	}
	return m.mergeHeap(st, dst)
}

// mergeHeap is mergeAll with the priority queue, as Word::merge_all.
func (m *bpe) mergeHeap(st *state, dst []int64) []int64 {
	syms := st.syms
	h := st.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[uint64(uint32(syms[i].id))<<32|uint64(uint32(syms[i+1].id))]; ok {
			h = heapPush(h, mergeItem{rank: uint32(v >> 32), pos: int32(i), newID: int32(uint32(v))})
		}
	}
	st.heapOps += len(h)
	for len(h) > 0 {
		var top mergeItem
		top, h = heapPop(h)
		st.heapOps++
		cur := &syms[top.pos]
		if !cur.live || cur.next < 0 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		v, ok := m.merges[uint64(uint32(cur.id))<<32|uint64(uint32(right.id))]
		if !ok || int32(uint32(v)) != top.newID {
			continue
		}
		cur.id = top.newID
		cur.next = right.next
		syms[nextPos].live = false
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			prev := syms[cur.prev]
			if v, ok := m.merges[uint64(uint32(prev.id))<<32|uint64(uint32(cur.id))]; ok {
				h = heapPush(h, mergeItem{rank: uint32(v >> 32), pos: cur.prev, newID: int32(uint32(v))})
				st.heapOps++
			}
		}
		if cur.next >= 0 {
			next := syms[cur.next]
			if v, ok := m.merges[uint64(uint32(cur.id))<<32|uint64(uint32(next.id))]; ok {
				h = heapPush(h, mergeItem{rank: uint32(v >> 32), pos: top.pos, newID: int32(uint32(v))})
				st.heapOps++
			}
		}
	}
	st.heap = h[:0]
	for i := range syms {
		if syms[i].live {
			dst = append(dst, int64(syms[i].id))
		}
	}
	return dst
}

func heapPush(h []mergeItem, x mergeItem) []mergeItem {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []mergeItem) (mergeItem, []mergeItem) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			c = r
		}
		if !h[c].less(h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return top, h
}

const noRank = ^uint32(0)

// pairRank returns the rank and merged id of the pair (a, b), or noRank.
func (m *bpe) pairRank(a, b int32) (uint32, int32) {
	if v, ok := m.merges[uint64(uint32(a))<<32|uint64(uint32(b))]; ok {
		return uint32(v >> 32), int32(uint32(v))
	}
	return noRank, 0
}

// mergeSmall is mergeAll for short words: ids and the ranks of adjacent
// pairs in arrays, the lowest rank found by a scan.
func (m *bpe) mergeSmall(st *state, dst []int64) []int64 {
	var idsBuf [smallWord]int32
	var ranks [smallWord]uint32
	var news [smallWord]int32
	n := len(st.syms)
	ids := idsBuf[:n]
	for i, s := range st.syms {
		ids[i] = s.id
	}
	for i := 0; i+1 < n; i++ {
		ranks[i], news[i] = m.pairRank(ids[i], ids[i+1])
	}
	for n > 1 {
		best, bi := noRank, -1
		for i := 0; i+1 < n; i++ {
			if ranks[i] < best {
				best, bi = ranks[i], i
			}
		}
		if bi < 0 {
			break
		}
		ids[bi] = news[bi]
		copy(ids[bi+1:n-1], ids[bi+2:n])
		copy(ranks[bi+1:n-1], ranks[bi+2:n])
		copy(news[bi+1:n-1], news[bi+2:n])
		n--
		if bi > 0 {
			ranks[bi-1], news[bi-1] = m.pairRank(ids[bi-1], ids[bi])
		}
		if bi+1 < n {
			ranks[bi], news[bi] = m.pairRank(ids[bi], ids[bi+1])
		} else {
			ranks[bi] = noRank
		}
	}
	for _, id := range ids[:n] {
		dst = append(dst, int64(id))
	}
	return dst
}
