package wordvec

import (
	"bytes"
	"hash/maphash"
)

// A Vocab is a list of distinct words in row order with a hash index from
// word to row: the words of the rows a Reader delivered. It is compact (the
// words' bytes in one arena, a 4-byte end offset per word and 8-byte index
// slots, 1.3 to 2.7 a word) so that the vocabulary of millions of words
// takes tens of megabytes, not the hundreds a map of strings would.
//
// A Vocab is not safe for concurrent mutation; reads may run concurrently
// once it is no longer added to.
type Vocab struct {
	arena []byte
	ends  []uint32 // ends[i] is the end of word i in arena
	slots []uint64 // 0 empty; else tag<<32 | (id+1)
	seed  maphash.Seed
}

// maxArena bounds the total bytes of a Vocab's words (end offsets are
// 32-bit).
const maxArena = 1<<32 - 1

// NewVocab returns an empty Vocab.
func NewVocab() *Vocab {
	return &Vocab{seed: maphash.MakeSeed()}
}

// Len returns the number of words.
func (v *Vocab) Len() int { return len(v.ends) }

// Bytes returns the total length of the words.
func (v *Vocab) Bytes() int64 { return int64(len(v.arena)) }

// Word returns word i. The slice aliases the Vocab and must not be
// modified.
func (v *Vocab) Word(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = v.ends[i-1]
	}
	return v.arena[start:v.ends[i]:v.ends[i]]
}

// ID returns the row of word, and whether it is in the Vocab.
func (v *Vocab) ID(word []byte) (int, bool) {
	return v.idHashed(word, maphash.Bytes(v.seed, word))
}

// hash returns the hash of word the Vocab uses (safe for concurrent use, so
// that parsing goroutines can hash the words they find).
func (v *Vocab) hash(word []byte) uint64 { return maphash.Bytes(v.seed, word) }

func (v *Vocab) idHashed(word []byte, h uint64) (int, bool) {
	if len(v.slots) == 0 {
		return 0, false
	}
	tag := h >> 32
	mask := uint64(len(v.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := v.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == tag {
			id := int(uint32(s)) - 1
			if bytes.Equal(v.Word(id), word) {
				return id, true
			}
		}
	}
}

// Add appends word unless it is already present. It returns the word's row
// and whether it was added; it fails only when the Vocab would exceed 4 GiB
// of words or 2^32-1 words.
func (v *Vocab) Add(word []byte) (id int, added bool, ok bool) {
	return v.addHashed(word, maphash.Bytes(v.seed, word))
}

// addHashed is Add with the word's hash (Vocab.hash) already computed.
func (v *Vocab) addHashed(word []byte, h uint64) (id int, added bool, ok bool) {
	if id, found := v.idHashed(word, h); found {
		return id, false, true
	}
	if int64(len(v.arena))+int64(len(word)) > maxArena || len(v.ends) >= MaxRows {
		return 0, false, false
	}
	if 4*(len(v.ends)+1) > 3*len(v.slots) { // keep the load at most 3/4
		v.grow()
	}
	id = len(v.ends)
	v.arena = append(v.arena, word...)
	v.ends = append(v.ends, uint32(len(v.arena)))
	v.insert(h, id)
	return id, true, true
}

func (v *Vocab) insert(h uint64, id int) {
	mask := uint64(len(v.slots) - 1)
	i := h & mask
	for v.slots[i] != 0 {
		i = (i + 1) & mask
	}
	v.slots[i] = h>>32<<32 | uint64(id+1)
}

func (v *Vocab) grow() {
	v.slots = make([]uint64, max(1024, 2*len(v.slots)))
	for id := range v.ends {
		v.insert(maphash.Bytes(v.seed, v.Word(id)), id)
	}
}
