package tokenizer

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

// encodeWord appends the ids of one pre-token to dst.
func (m *bpe) encodeWord(st *state, p piece, dst []int64) []int64 {
	w := p.s
	if w == "" {
		return dst
	}
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

// mergeAll applies the merges to st.syms as Word::merge_all does (a
// priority queue of candidate merges: O(n log n) in the word's length) and
// appends the resulting ids.
func (m *bpe) mergeAll(st *state, dst []int64) []int64 {
	syms := st.syms
	if len(syms) == 1 {
		return append(dst, int64(syms[0].id))
	}
	h := st.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[uint64(uint32(syms[i].id))<<32|uint64(uint32(syms[i+1].id))]; ok {
			h = heapPush(h, mergeItem{rank: uint32(v >> 32), pos: int32(i), newID: int32(uint32(v))})
		}
	}
	for len(h) > 0 {
		var top mergeItem
		top, h = heapPop(h)
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
			}
		}
		if cur.next >= 0 {
			next := syms[cur.next]
			if v, ok := m.merges[uint64(uint32(cur.id))<<32|uint64(uint32(next.id))]; ok {
				h = heapPush(h, mergeItem{rank: uint32(v >> 32), pos: top.pos, newID: int32(uint32(v))})
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
