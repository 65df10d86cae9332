package wordvec

// Subwords are fastText's character n-gram parameters: the n-grams of
// "<" + word + ">" from MinN to MaxN characters, each hashed into one of
// Bucket rows.
type Subwords struct {
	MinN, MaxN int
	Bucket     int64
}

// Hash is fastText's hash of a string: 32-bit FNV-1a over its bytes taken
// as signed chars, so that a byte of 0x80 or more is sign-extended before
// the XOR (Dictionary::hash; gensim's ft_hash_bytes).
func Hash(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(int32(int8(c)))
		h *= 16777619
	}
	return h
}

// AppendBuckets appends to dst the buckets (0 <= b < Bucket) of the
// character n-grams of word, in fastText's order (computeSubwords; gensim's
// ft_ngram_hashes): for each character of "<" + word + ">", the n-grams
// starting there from 1 to MaxN characters long, those of at least MinN
// characters kept, except the lone "<" and ">". Characters are counted as
// fastText counts them: a byte of the form 10xxxxxx continues the previous
// character, every other byte starts one, valid UTF-8 or not. The word's
// own row is not included. It allocates only to grow dst.
func (s Subwords) AppendBuckets(dst []int64, word []byte) []int64 {
	if s.Bucket <= 0 || s.MaxN <= 0 {
		return dst
	}
	n := len(word) + 2
	at := func(i int) byte {
		switch i {
		case 0:
			return '<'
		case n - 1:
			return '>'
		}
		return word[i-1]
	}
	for i := 0; i < n; i++ {
		if at(i)&0xC0 == 0x80 {
			continue
		}
		h := uint32(2166136261)
		j := i
		for chars := 1; j < n && chars <= s.MaxN; chars++ {
			h = (h ^ uint32(int32(int8(at(j))))) * 16777619
			j++
			for j < n && at(j)&0xC0 == 0x80 {
				h = (h ^ uint32(int32(int8(at(j))))) * 16777619
				j++
			}
			if chars >= s.MinN && !(chars == 1 && (i == 0 || j == n)) {
				dst = append(dst, int64(h)%s.Bucket)
			}
		}
	}
	return dst
}

// A RowFunc returns the row of bucket b (0 <= b < Bucket) of a subword
// table. The slice is only read, and only until the next call.
type RowFunc func(b int64) ([]float32, error)

// OOVVector computes into dst the vector of a word that has no row of its
// own from its n-gram buckets (AppendBuckets), as gensim's
// FastTextKeyedVectors.get_vector does (and, to the last bit or so,
// fastText's getWordVector): the mean of the buckets' rows, summed in
// float32 in n-gram order starting from +0 and divided by their count in
// float32. With no buckets (a word too short for MinN) dst is all zeros, as
// in both. fastText multiplies by float32(1/n) instead of dividing, which
// can differ in the last bit.
func (s Subwords) OOVVector(dst []float32, buckets []int64, row RowFunc) error {
	for i := range dst {
		dst[i] = 0
	}
	for _, b := range buckets {
		r, err := row(b)
		if err != nil {
			return err
		}
		addRow(dst, r)
	}
	if len(buckets) > 0 {
		divRow(dst, float32(len(buckets)))
	}
	return nil
}

// WordVector computes into dst the vector of an in-vocabulary word whose
// own input row is own and whose n-gram buckets (AppendBuckets) are
// buckets, as gensim computes FastTextKeyedVectors.vectors
// (adjust_vectors): own, plus the buckets' rows in n-gram order, in
// float32, divided by one more than their count (with no buckets at all,
// Bucket 0, own as it is). dst and own may be the same slice. fastText
// itself (getWordVector) multiplies by float32(1/(n+1)) instead, which can
// differ in the last bit, and gives "</s>" no n-grams.
func (s Subwords) WordVector(dst, own []float32, buckets []int64, row RowFunc) error {
	copy(dst, own)
	for _, b := range buckets {
		r, err := row(b)
		if err != nil {
			return err
		}
		addRow(dst, r)
	}
	if s.Bucket > 0 {
		divRow(dst, float32(len(buckets)+1))
	}
	return nil
}

func addRow(dst, r []float32) {
	r = r[:len(dst)]
	for i := range dst {
		dst[i] += r[i]
	}
}

func divRow(dst []float32, d float32) {
	for i := range dst {
		dst[i] /= d
	}
}
