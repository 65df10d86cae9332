package format

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The vocabulary section (kind 4, SPEC.md "Vocabulary"): the string of every
// token row that has one, and an open-addressing hash index from string to
// row that lookups probe straight in the file's bytes.
//
//	0   u64 rows         the header's rows: strings cover ids 0 to rows-1
//	8   u64 count        rows whose string is not empty
//	16  u64 slots        index slots: the smallest power of two >= max(1, 2*count)
//	24  u64 blob_length  bytes of string data
//	32  u32 hash         VocabHashFNV1aFmix64, the only one defined
//	36  u32 subwords     0, or SubwordsFastText when the table has a subwords section
//	40  u32 minn         the scheme's shortest and longest character n-gram
//	44  u32 maxn         (0 and 0 without a scheme)
//	48  16 bytes         reserved, zero
//	64  offsets          rows+1 u64: string i is blob[offsets[i]:offsets[i+1]]
//	    index            slots u64: 0 (empty) or tag<<32 | (id+1)
//	    blob             blob_length bytes
const (
	vocOffRows     = 0
	vocOffCount    = 8
	vocOffSlots    = 16
	vocOffBlob     = 24
	vocOffHash     = 32
	vocOffSubwords = 36
	vocOffMinN     = 40
	vocOffMaxN     = 44
	vocOffReserved = 48
)

// VocabHashFNV1aFmix64 is the vocabulary's hash function (see VocabHash).
const VocabHashFNV1aFmix64 = 1

// SubwordsFastText is the subword scheme of fastText: the character
// n-grams of "<" + word + ">", hashed with fastText's 32-bit FNV-1a into the
// rows of the subwords section (SPEC.md, "Subwords").
const SubwordsFastText = 1

// VocabInfo holds the fixed fields of a vocabulary section.
type VocabInfo struct {
	Rows       int64  // strings cover ids 0 to Rows-1 (the table's rows)
	Count      int64  // rows whose string is not empty
	Slots      int64  // hash index slots
	BlobLength int64  // bytes of string data
	Hash       uint32 // VocabHashFNV1aFmix64
	Subwords   uint32 // 0, or SubwordsFastText
	MinN, MaxN int    // the subword scheme's n-gram lengths (0 without one)
}

// VocabSlots returns the number of index slots of a vocabulary of count
// strings: the smallest power of two that is at least 2*count, and at least
// 1. Writers use exactly this, readers require it.
func VocabSlots(count int64) int64 {
	if count <= 0 {
		return 1
	}
	return 1 << bits.Len64(uint64(2*count-1))
}

// vocabLength returns the length of a vocabulary section: the fixed fields,
// rows+1 offsets, slots index entries and the blob, reporting false on
// overflow.
func vocabLength(rows, slots, blob int64) (int64, bool) {
	offs, ok1 := checkedMul(rows+1, 8)
	idx, ok2 := checkedMul(slots, 8)
	n, ok3 := checkedAdd(VocabHeaderSize, offs)
	n, ok4 := checkedAdd(n, idx)
	n, ok5 := checkedAdd(n, blob)
	return n, ok1 && ok2 && ok3 && ok4 && ok5
}

// The vocabulary hash (SPEC.md, "Vocabulary"): 64-bit FNV-1a over the bytes,
// finished with MurmurHash3's fmix64 so that every bit of the result
// depends on every byte (FNV-1a alone leaves the last byte out of the high
// bits, which pick the slot).
const (
	fnvOffset64 = 0xcbf29ce484222325
	fnvPrime64  = 0x100000001b3
)

// VocabHash returns the vocabulary hash of s. A string's home slot is the
// top log2(slots) bits of the hash, and its tag the low 32 bits.
func VocabHash(s []byte) uint64 { return vocabHash(s) }

func vocabHash[S ~string | ~[]byte](s S) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// A Vocabulary reads a vocabulary section held in memory or mapped: row id
// to string and string to row id, both without allocating. NewVocabulary
// checks only the fixed fields (O(1)); Check checks everything. Lookups on a
// vocabulary that has not passed Check are still safe: every offset and
// index entry they read is checked as it is read, a corrupt one is a
// *FormatError wrapping ErrBadVocabulary, and a probe visits each slot at
// most once. A Vocabulary is immutable and safe for concurrent use.
type Vocabulary struct {
	VocabInfo
	data  []byte // the section's bytes
	base  int64  // the section's offset in the file, for errors
	shift uint   // 64 - log2(slots): a hash's top bits are its home slot
	idx   int64  // offset of the index in data
	blob  int64  // offset of the blob in data
}

// NewVocabulary returns the vocabulary of the section whose bytes are data,
// at offset base of a file whose header says rows. It checks the section's
// fixed fields and its first and last offsets, nothing that costs more.
func NewVocabulary(data []byte, base, rows int64) (*Vocabulary, error) {
	read := func(p []byte, off int64) error {
		if off < 0 || off > int64(len(data))-int64(len(p)) {
			return formatErr(ErrBadVocabulary, base+off, "vocabulary", len(data), "the section is too short")
		}
		copy(p, data[off:])
		return nil
	}
	info, err := parseVocab(read, base, int64(len(data)), rows)
	if err != nil {
		return nil, err
	}
	return newVocabulary(data, base, info), nil
}

func newVocabulary(data []byte, base int64, info VocabInfo) *Vocabulary {
	v := &Vocabulary{VocabInfo: info, data: data, base: base}
	v.shift = uint(64 - bits.TrailingZeros64(uint64(info.Slots)))
	v.idx = VocabHeaderSize + 8*(info.Rows+1)
	v.blob = v.idx + 8*info.Slots
	return v
}

// parseVocab decodes and checks the fixed fields of a vocabulary section of
// length bytes at offset base, reading them through read (offsets relative
// to the section): the 64-byte header, then offsets[0] and offsets[rows].
func parseVocab(read func(p []byte, off int64) error, base, length, rows int64) (VocabInfo, error) {
	le := binary.LittleEndian
	bad := func(off int64, field string, value any, detail string, args ...any) (VocabInfo, error) {
		return VocabInfo{}, formatErr(ErrBadVocabulary, base+off, "vocabulary."+field, value, detail, args...)
	}
	if length < VocabHeaderSize {
		return bad(0, "length", length, "shorter than the %d-byte fixed fields", VocabHeaderSize)
	}
	var buf [VocabHeaderSize + 8]byte // the fixed fields and offsets[0]
	if err := read(buf[:min(int64(len(buf)), length)], 0); err != nil {
		return VocabInfo{}, err
	}
	h := buf[:VocabHeaderSize]
	info := VocabInfo{
		Hash: le.Uint32(h[vocOffHash:]), Subwords: le.Uint32(h[vocOffSubwords:]),
	}
	r, count, slots, blob := le.Uint64(h[vocOffRows:]), le.Uint64(h[vocOffCount:]), le.Uint64(h[vocOffSlots:]), le.Uint64(h[vocOffBlob:])
	minN, maxN := le.Uint32(h[vocOffMinN:]), le.Uint32(h[vocOffMaxN:])
	switch {
	case r != uint64(rows):
		return bad(vocOffRows, "rows", r, "the header's rows is %d", rows)
	case count > r:
		return bad(vocOffCount, "count", count, "more strings than the %d rows", r)
	case slots != uint64(VocabSlots(int64(count))):
		return bad(vocOffSlots, "slots", slots, "%d strings need %d slots (the smallest power of two >= 2 x count)", count, VocabSlots(int64(count)))
	case blob > uint64(length):
		return bad(vocOffBlob, "blob_length", blob, "longer than the %d-byte section", length)
	case count > blob || (count == 0) != (blob == 0):
		return bad(vocOffBlob, "blob_length", blob, "%d non-empty strings cannot take %d bytes", count, blob)
	case info.Hash != VocabHashFNV1aFmix64:
		return bad(vocOffHash, "hash", info.Hash, "want %d (FNV-1a 64 with fmix64)", VocabHashFNV1aFmix64)
	case info.Subwords > SubwordsFastText:
		return bad(vocOffSubwords, "subwords", info.Subwords, "want 0 (none) or %d (fastText)", SubwordsFastText)
	case info.Subwords == 0 && (minN != 0 || maxN != 0):
		return bad(vocOffMinN, "minn", minN, "minn and maxn must be 0 without a subword scheme (maxn %d)", maxN)
	case info.Subwords != 0 && (minN < 1 || minN > maxN):
		return bad(vocOffMinN, "minn", minN, "want 1 <= minn <= maxn (maxn %d)", maxN)
	case info.Subwords != 0 && maxN > MaxSubwordN:
		return bad(vocOffMaxN, "maxn", maxN, "want at most %d", MaxSubwordN)
	}
	if off, ok := firstNonZero(h, vocOffReserved, VocabHeaderSize); !ok {
		return bad(off, "reserved", h[off], "")
	}
	info.Rows, info.Count, info.Slots, info.BlobLength = rows, int64(count), int64(slots), int64(blob)
	info.MinN, info.MaxN = int(minN), int(maxN)
	if want, ok := vocabLength(rows, info.Slots, info.BlobLength); !ok || want != length {
		return bad(0, "length", length, "%d offsets, %d index slots and %d bytes of strings need %d bytes", rows+1, slots, blob, want)
	}
	if first := le.Uint64(buf[VocabHeaderSize:]); first != 0 {
		return bad(VocabHeaderSize, "offsets[0]", first, "want 0")
	}
	var b [8]byte
	if err := read(b[:], VocabHeaderSize+8*rows); err != nil {
		return VocabInfo{}, err
	}
	if last := le.Uint64(b[:]); last != blob {
		return bad(VocabHeaderSize+8*rows, fmt.Sprintf("offsets[%d]", rows), last, "want blob_length %d", blob)
	}
	return info, nil
}

// encodeVocabHeader returns the fixed fields of a vocabulary section.
func encodeVocabHeader(info VocabInfo) []byte {
	le := binary.LittleEndian
	h := make([]byte, VocabHeaderSize)
	le.PutUint64(h[vocOffRows:], uint64(info.Rows))
	le.PutUint64(h[vocOffCount:], uint64(info.Count))
	le.PutUint64(h[vocOffSlots:], uint64(info.Slots))
	le.PutUint64(h[vocOffBlob:], uint64(info.BlobLength))
	le.PutUint32(h[vocOffHash:], info.Hash)
	le.PutUint32(h[vocOffSubwords:], info.Subwords)
	le.PutUint32(h[vocOffMinN:], uint32(info.MinN))
	le.PutUint32(h[vocOffMaxN:], uint32(info.MaxN))
	return h
}

// Len returns the number of rows the vocabulary covers (the table's rows).
func (v *Vocabulary) Len() int64 { return v.Rows }

// String returns the string of row id, empty if the row has none. The
// slice aliases the section's bytes: it must not be modified, and lives as
// long as they do (for a mapped table, until it is closed).
func (v *Vocabulary) String(id int64) ([]byte, error) {
	if id < 0 || id >= v.Rows {
		return nil, fmt.Errorf("embstore: id %d is out of range [0, %d) of the vocabulary", id, v.Rows)
	}
	return v.str(id)
}

// str returns the string of row id, checking the two offsets it reads.
func (v *Vocabulary) str(id int64) ([]byte, error) {
	if uint64(id) >= uint64(v.Rows) {
		return nil, formatErr(ErrBadVocabulary, v.base+v.idx, "vocabulary index", id+1,
			"an index entry names row %d of %d", id, v.Rows)
	}
	at := VocabHeaderSize + 8*id
	a := binary.LittleEndian.Uint64(v.data[at:])
	b := binary.LittleEndian.Uint64(v.data[at+8:])
	if a > b || b > uint64(v.BlobLength) {
		return nil, formatErr(ErrBadVocabulary, v.base+at, fmt.Sprintf("vocabulary.offsets[%d]", id), a,
			"string %d spans [%d, %d) of a %d-byte blob", id, a, b, v.BlobLength)
	}
	return v.data[v.blob+int64(a) : v.blob+int64(b) : v.blob+int64(b)], nil
}

// ID returns the row whose string is s, ErrNotInVocabulary if there is
// none (the empty string never has a row), or a *FormatError wrapping
// ErrBadVocabulary if the probe meets a corrupt entry. It does not
// allocate.
func (v *Vocabulary) ID(s []byte) (int64, error) { return vocabLookup(v, s) }

// IDString is ID for a Go string, also without allocating.
func (v *Vocabulary) IDString(s string) (int64, error) { return vocabLookup(v, s) }

func vocabLookup[S ~string | ~[]byte](v *Vocabulary, s S) (int64, error) {
	if len(s) == 0 {
		return -1, ErrNotInVocabulary
	}
	x := vocabHash(s)
	tag, mask := x&0xffffffff, uint64(v.Slots-1)
	p := x >> v.shift
	for range v.Slots {
		at := v.idx + 8*int64(p)
		e := binary.LittleEndian.Uint64(v.data[at:])
		if e == 0 {
			return -1, ErrNotInVocabulary
		}
		if e>>32 == tag {
			id := int64(e&0xffffffff) - 1
			got, err := v.str(id)
			if err != nil {
				return -1, err
			}
			if string(got) == string(s) {
				return id, nil
			}
		}
		p = (p + 1) & mask
	}
	return -1, formatErr(ErrBadVocabulary, v.base+v.idx, "vocabulary index", v.Slots, "no empty slot: a probe went round the whole index")
}

// Check checks what NewVocabulary does not: that the offsets never
// decrease, count is the number of non-empty strings, no two rows have the
// same string, and the index is exactly the one SPEC.md's procedure builds
// from the strings (so that every string is found at its row). It holds one
// copy of the index (8 bytes a slot) while it runs.
func (v *Vocabulary) Check() error {
	le := binary.LittleEndian
	prev, n := uint64(0), int64(0)
	for i := int64(1); i <= v.Rows; i++ {
		at := VocabHeaderSize + 8*i
		o := le.Uint64(v.data[at:])
		if o < prev {
			return formatErr(ErrBadVocabulary, v.base+at, fmt.Sprintf("vocabulary.offsets[%d]", i), o,
				"less than offsets[%d] = %d", i-1, prev)
		}
		if o > prev {
			n++
		}
		prev = o
	}
	if n != v.Count {
		return formatErr(ErrBadVocabulary, v.base+vocOffCount, "vocabulary.count", v.Count, "%d rows have a string", n)
	}
	index, a, b := buildVocabIndex(v.Rows, v.Slots, func(i int64) []byte { s, _ := v.str(i); return s })
	if a >= 0 {
		return formatErr(ErrBadVocabulary, v.base+VocabHeaderSize+8*b, fmt.Sprintf("vocabulary.offsets[%d]", b), nil,
			"rows %d and %d have the same string", a, b)
	}
	for p, want := range index {
		at := v.idx + 8*int64(p)
		if got := le.Uint64(v.data[at:]); got != want {
			return formatErr(ErrBadVocabulary, v.base+at, fmt.Sprintf("vocabulary index slot %d", p), fmt.Sprintf("%#x", got),
				"want %#x, as built from the strings", want)
		}
	}
	return nil
}

// buildVocabIndex builds the index of the rows strings given by str (empty:
// no string) with slots slots, as SPEC.md specifies: in id order, each
// string goes to the first empty slot from its home, wrapping around. It
// returns the index, or two rows a < b with the same string (and a nil
// index). slots must exceed the number of non-empty strings.
func buildVocabIndex(rows, slots int64, str func(i int64) []byte) (index []uint64, a, b int64) {
	index = make([]uint64, slots)
	shift := uint(64 - bits.TrailingZeros64(uint64(slots)))
	mask := uint64(slots - 1)
	for id := range rows {
		s := str(id)
		if len(s) == 0 {
			continue
		}
		x := vocabHash(s)
		tag := x & 0xffffffff
		p := x >> shift
		for index[p] != 0 {
			if e := index[p]; e>>32 == tag {
				if other := int64(e&0xffffffff) - 1; string(str(other)) == string(s) {
					return nil, other, id
				}
			}
			p = (p + 1) & mask
		}
		index[p] = tag<<32 | uint64(id+1)
	}
	return index, -1, -1
}
