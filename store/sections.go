package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/wordvec"
	"github.com/embstore/embstore/kernel"
	"github.com/embstore/embstore/tokenizer"
)

// The read side of the optional sections of format 1.1: the vocabulary,
// the tokenizer, the norms and the subword table (see format/SPEC.md).
// Opening a table reads only their fixed fields; the vocabulary's strings
// and index, the norms and the subword rows are read in place from the
// mapping when used, and the tokenizer is decompressed and parsed on first
// use.

// Errors for tables without one of the optional sections.
var (
	ErrNoVocabulary = errors.New("embstore: table has no vocabulary")
	ErrNoTokenizer  = errors.New("embstore: table has no tokenizer")
	ErrNoNorms      = errors.New("embstore: table has no norms")
	ErrNoSubwords   = errors.New("embstore: table has no subword table")
)

// ErrNotInVocabulary is returned by Vocabulary.ID for a string no row has
// (and wrapped in a *WordError by WordVector, Table.WordID and
// Table.Vector).
var ErrNotInVocabulary = format.ErrNotInVocabulary

// ErrNoNgrams is wrapped in a *WordError by Vocabulary.WordVector for a word
// that is not in the vocabulary and has no character n-gram of the subword
// scheme's lengths (a word shorter than minn-2 characters).
var ErrNoNgrams = errors.New("embstore: word has no character n-gram of the subword lengths")

// A WordError reports a word WordVector has no vector for: Err is
// ErrNotInVocabulary (the table has no subword table) or ErrNoNgrams.
type WordError struct {
	Word string
	Err  error

	vocabOnly bool // from Table.WordID, which does not look at subwords
}

func (e *WordError) Error() string {
	switch {
	case e.Err == ErrNoNgrams:
		return fmt.Sprintf("embstore: word %q is not in the vocabulary and has no character n-gram of the subword lengths", e.Word)
	case e.vocabOnly:
		return fmt.Sprintf("embstore: word %q is not in the vocabulary", e.Word)
	}
	return fmt.Sprintf("embstore: word %q is not in the vocabulary (and the table has no subword table)", e.Word)
}

// Unwrap returns ErrNotInVocabulary or ErrNoNgrams.
func (e *WordError) Unwrap() error { return e.Err }

// sections holds what a Table knows of its optional sections.
type sections struct {
	vocab    *format.Vocabulary // mapped tables: set at Open; copy-out: loaded on first use
	vocabSec format.Section
	hasVocab bool
	vocabErr error
	vocabMu  sync.Mutex

	normsSec  format.Section
	hasNorms  bool
	norms     []float32 // little-endian mapped tables: the section itself; else decoded on first use
	normsErr  error
	normsOnce sync.Once

	sub        *kernel.Table // the subword rows; nil on copy-out or without a subwords section
	subData    []byte        // the subwords section's bytes; nil on copy-out
	subRows    int64         // rows of the subwords section, 0 for none
	subStride  int           // bytes per subword row
	subDType   format.DType
	subSec     format.Section
	minN, maxN int

	tokSec format.Section
	hasTok bool
	tok    atomic.Pointer[tokenizerResult]
	tokMu  sync.Mutex
}

type tokenizerResult struct {
	tk  *tokenizer.Tokenizer
	err error
}

// openSections sets up the optional sections of t, whose header r read.
// It reads nothing: r has read and checked the fixed fields.
func (t *Table) openSections(r *format.Reader) error {
	s := &t.sec
	data := t.m.bytes()
	if t.copyTo {
		data = nil
	}
	if sec, ok := t.hdr.Section(format.SectionVocabulary); ok {
		s.vocabSec, s.hasVocab = sec, true
		if data != nil {
			// The fixed fields were read and checked by r: touch no page of
			// the section until a lookup needs it.
			v, err := r.VocabularyOf(data[sec.Offset:sec.End()])
			if err != nil {
				return err
			}
			s.vocab = v
		}
		info, _ := r.VocabInfo()
		s.minN, s.maxN = info.MinN, info.MaxN
	}
	if sec, ok := t.hdr.Section(format.SectionNorms); ok {
		s.normsSec, s.hasNorms = sec, true
		if data != nil && nativeLittleEndian {
			// Sections start on a 64-byte boundary of a page-aligned
			// mapping: the pointer is aligned for float32.
			s.norms = unsafe.Slice((*float32)(unsafe.Pointer(&data[sec.Offset])), t.hdr.Rows)
		}
	}
	if sec, ok := t.hdr.Section(format.SectionSubwords); ok {
		s.subSec = sec
		s.subRows, s.subStride, s.subDType = sec.Rows, int(sec.RowStride), sec.DType
		if data != nil {
			sub, err := kernel.NewTable(data[sec.Offset:sec.End()], kernel.TableSpec{Rows: sec.Rows, Dim: t.hdr.Dim,
				Stride: int(sec.RowStride), DType: sec.DType, Scale: t.hdr.TokenScale, ComputeDType: t.hdr.ComputeDType})
			if err != nil {
				return err
			}
			s.sub, s.subData = sub, data[sec.Offset:sec.End()]
		}
	}
	if sec, ok := t.hdr.Section(format.SectionTokenizer); ok {
		s.tokSec, s.hasTok = sec, true
	}
	return nil
}

// closeSections drops the references into the mapping.
func (t *Table) closeSections() {
	t.sec.sub, t.sec.subData = nil, nil
	if !t.copyTo {
		t.sec.vocab, t.sec.norms = nil, nil
	}
}

// readSection copies section sec out of the file (copy-out tables).
func (t *Table) readSection(sec format.Section) ([]byte, error) {
	b := make([]byte, sec.Length)
	if _, err := t.ra.ReadAt(b, sec.Offset); err != nil {
		return nil, fmt.Errorf("embstore: read %s section: %w", sec.Kind, err)
	}
	return b, nil
}

// Vocabulary returns the table's vocabulary: the string of each token row
// and the row of each string, or ErrNoVocabulary. It reads nothing on a
// mapped table (on platforms that copy rows out, the first call reads the
// section).
func (t *Table) Vocabulary() (*Vocabulary, error) {
	if !t.sec.hasVocab {
		return nil, ErrNoVocabulary
	}
	var v *format.Vocabulary
	err := t.read(func() error {
		var err error
		v, err = t.vocabulary()
		return err
	})
	if err != nil {
		return nil, vocabErr(err)
	}
	return &Vocabulary{t: t, v: v, rows: v.Rows, count: v.Count}, nil
}

// vocabulary returns the format's view of the vocabulary section. It runs
// inside a table call.
func (t *Table) vocabulary() (*format.Vocabulary, error) {
	s := &t.sec
	if !t.copyTo {
		return s.vocab, nil
	}
	s.vocabMu.Lock()
	defer s.vocabMu.Unlock()
	if s.vocab == nil && s.vocabErr == nil {
		data, err := t.readSection(s.vocabSec)
		if err == nil {
			s.vocab, err = format.NewVocabulary(data, s.vocabSec.Offset, t.hdr.Rows)
		}
		s.vocabErr = err
	}
	return s.vocab, s.vocabErr
}

// A Vocabulary is a table's vocabulary section, read in place: ID maps a
// string to its row through the hash index stored in the file, String a row
// to its string. Neither allocates, and both are safe for concurrent use.
// A corrupt offset or index entry met on the way is an error wrapping
// format.ErrBadVocabulary (Options.Verify, or Verify, checks them all).
type Vocabulary struct {
	t           *Table
	v           *format.Vocabulary // read only inside table calls: it aliases the mapping
	rows, count int64
}

// Len returns the number of rows the vocabulary covers: the table's rows.
func (v *Vocabulary) Len() int64 { return v.rows }

// Count returns the number of rows that have a string.
func (v *Vocabulary) Count() int64 { return v.count }

// ID returns the row whose string is s (compared byte for byte), or
// ErrNotInVocabulary. It does not allocate.
func (v *Vocabulary) ID(s string) (int64, error) {
	id := int64(-1)
	err := v.t.read(func() error {
		var err error
		id, err = v.v.IDString(s)
		return err
	})
	return id, vocabErr(err)
}

// IDBytes is ID for a string held in a byte slice.
func (v *Vocabulary) IDBytes(s []byte) (int64, error) {
	id := int64(-1)
	err := v.t.read(func() error {
		var err error
		id, err = v.v.ID(s)
		return err
	})
	return id, vocabErr(err)
}

// vocabErr gives a format error the store's error prefix once; the
// sentinels pass unchanged.
func vocabErr(err error) error {
	if err == ErrNotInVocabulary || err == ErrClosed {
		return err
	}
	return vocabErrIn("vocabulary", err)
}

// AppendString appends the string of row id to dst and returns the
// extended slice; a row without a string appends nothing. An id outside
// the table is an *IndexError. View.String gives the string without
// copying.
func (v *Vocabulary) AppendString(dst []byte, id int64) ([]byte, error) {
	if uint64(id) >= uint64(v.rows) {
		return dst, &IndexError{Arg: "id", Index: -1, Value: id, Limit: v.rows, What: "vocabulary"}
	}
	err := v.t.read(func() error {
		s, err := v.v.String(id)
		dst = append(dst, s...)
		return err
	})
	return dst, vocabErr(err)
}

// String returns row id's string, without copying: the slice aliases the
// mapped file and is valid only until the function passed to Table.View
// returns (see View). A row without a string gives an empty slice.
func (v View) String(id int64) ([]byte, error) {
	if !v.t.sec.hasVocab {
		return nil, ErrNoVocabulary
	}
	voc, err := v.t.vocabulary()
	if err != nil {
		return nil, err
	}
	if uint64(id) >= uint64(voc.Rows) {
		return nil, &IndexError{Arg: "id", Index: -1, Value: id, Limit: voc.Rows, What: "vocabulary"}
	}
	s, err := voc.String(id)
	return s, vocabErr(err)
}

// WordVector writes the vector of word to dst (Dim values): the token row
// of the word, as Lookup returns it, when the vocabulary has it; else, when
// the table has a subword table, the mean of the rows of the word's
// character n-grams (fastText's vector for an out-of-vocabulary word: see
// Subwords). A word with neither is a *WordError wrapping
// ErrNotInVocabulary or ErrNoNgrams. It does not allocate on success.
func (v *Vocabulary) WordVector(dst []float32, word string) error { return v.t.Vector(dst, word) }

// Stand-ins for the *WordErrors WordVector returns, built outside the
// table's call so that the word escapes only on failure.
var (
	errNotInVocabulary = errors.New("not in vocabulary")
	errNoNgrams        = errors.New("no n-grams")
)

// rowScratch is the memory of one WordVector or copy-out row read.
type rowScratch struct {
	buckets []int64
	row     []float32
	raw     []byte
}

var rowScratchPool = sync.Pool{New: func() any { return new(rowScratch) }}

// tokenRow writes token row id as a lookup returns it (the format's
// reference arithmetic, which the kernels reproduce bit for bit).
func (t *Table) tokenRow(dst []float32, id int64) error {
	stride := int64(t.tok.Spec().Stride)
	if !t.copyTo {
		format.LookupValues(dst, t.tokData[id*stride:(id+1)*stride], t.hdr.DType, t.hdr.TokenScale, t.hdr.ComputeDType)
		return nil
	}
	sc := rowScratchPool.Get().(*rowScratch)
	defer rowScratchPool.Put(sc)
	if int64(cap(sc.raw)) < stride {
		sc.raw = make([]byte, stride)
	}
	raw := sc.raw[:stride]
	if _, err := t.ra.ReadAt(raw, t.hdr.Tokens().Offset+id*stride); err != nil {
		return fmt.Errorf("embstore: read row %d: %w", id, err)
	}
	format.LookupValues(dst, raw, t.hdr.DType, t.hdr.TokenScale, t.hdr.ComputeDType)
	return nil
}

// subwordRow decodes subword row b into dst as a lookup decodes a token row.
func (t *Table) subwordRow(dst []float32, raw []byte, b int64) ([]float32, error) {
	s := &t.sec
	stride := int64(s.subStride)
	if uint64(b) >= uint64(s.subRows) {
		return nil, &IndexError{Arg: "bucket", Index: -1, Value: b, Limit: s.subRows, What: "subword table"}
	}
	var row []byte
	if s.subData != nil {
		row = s.subData[b*stride : (b+1)*stride]
	} else {
		row = raw[:stride]
		if _, err := t.ra.ReadAt(row, s.subSec.Offset+b*stride); err != nil {
			return nil, fmt.Errorf("embstore: read subword row %d: %w", b, err)
		}
	}
	format.LookupValues(dst, row, s.subDType, t.hdr.TokenScale, t.hdr.ComputeDType)
	return dst, nil
}

// ReadNorms writes the norms of token rows [first, first+len(dst)) to
// dst: each row's Euclidean norm as a lookup without positions returns it
// (format.Norm), as the table's norms section holds them. It returns
// ErrNoNorms for a table without one. View.Norms gives them without
// copying.
func (t *Table) ReadNorms(dst []float32, first int64) error {
	if !t.sec.hasNorms {
		return ErrNoNorms
	}
	n := int64(len(dst))
	if first < 0 || first > t.hdr.Rows-n {
		return fmt.Errorf("embstore: norms [%d, %d) out of range of %d rows", first, first+n, t.hdr.Rows)
	}
	return t.read(func() error {
		norms, err := t.normsSlice()
		if err == nil {
			copy(dst, norms[first:first+n])
		}
		return err
	})
}

// Norms returns the norms of all token rows (see Table.ReadNorms) without
// copying: the slice aliases the mapped file, is valid only until the
// function passed to Table.View returns, and must not be modified. On
// big-endian machines and platforms that copy rows out it is a copy made
// on first use.
func (v View) Norms() ([]float32, error) {
	if !v.t.sec.hasNorms {
		return nil, ErrNoNorms
	}
	return v.t.normsSlice()
}

// normsSlice returns the norms as float32 values: the mapped section
// itself, or a copy decoded once. It must be called inside a table call.
func (t *Table) normsSlice() ([]float32, error) {
	s := &t.sec
	if s.norms != nil && (!t.copyTo && nativeLittleEndian) {
		return s.norms, nil
	}
	s.normsOnce.Do(func() {
		var raw []byte
		if t.copyTo {
			raw, s.normsErr = t.readSection(s.normsSec)
		} else {
			raw = t.m.bytes()[s.normsSec.Offset:s.normsSec.End()]
		}
		if s.normsErr == nil {
			norms := make([]float32, t.hdr.Rows)
			for i := range norms {
				norms[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			s.norms = norms
		}
	})
	return s.norms, s.normsErr
}

// Tokenizer returns the table's tokenizer, decompressed and parsed on the
// first call (which may take a while for a large tokenizer) and shared by
// every later one; the Tokenizer is safe for concurrent use. It returns
// ErrNoTokenizer for a table without one, and the tokenizer package's
// error (a *tokenizer.LoadError) for a document it cannot run.
func (t *Table) Tokenizer() (*tokenizer.Tokenizer, error) {
	s := &t.sec
	if !s.hasTok {
		return nil, ErrNoTokenizer
	}
	if r := s.tok.Load(); r != nil {
		return r.tk, r.err
	}
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if r := s.tok.Load(); r != nil {
		return r.tk, r.err
	}
	var doc []byte
	err := t.read(func() error {
		var sec []byte
		if t.copyTo {
			var err error
			if sec, err = t.readSection(s.tokSec); err != nil {
				return err
			}
		} else {
			sec = t.m.bytes()[s.tokSec.Offset:s.tokSec.End()]
		}
		var err error
		doc, err = format.DecompressTokenizerSection(sec, s.tokSec.Offset) // Load parses the JSON
		return err
	})
	if err == ErrClosed {
		return nil, err
	}
	r := &tokenizerResult{err: vocabErrIn("tokenizer", err)}
	if err == nil {
		r.tk, err = tokenizer.Load(doc)
		if err != nil {
			r.err = fmt.Errorf("embstore: the table's tokenizer: %w", err)
		}
	}
	s.tok.Store(r)
	return r.tk, r.err
}

// vocabErrIn gives err (a format error or a fault) the store's prefix and
// names the section.
func vocabErrIn(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*FaultError); ok {
		return err
	}
	return errctx.In("embstore", what, err)
}

// Subwords returns the table's subword table (fastText's character n-gram
// buckets), or ErrNoSubwords.
func (t *Table) Subwords() (*Subwords, error) {
	if t.sec.subRows == 0 {
		return nil, ErrNoSubwords
	}
	return &Subwords{MinN: t.sec.minN, MaxN: t.sec.maxN, Buckets: t.sec.subRows, t: t}, nil
}

// Subwords is a table's subword table: Buckets rows of Dim values, one per
// hash bucket of fastText's character n-grams of MinN to MaxN characters.
// The vector of a word the vocabulary does not have is the mean of the rows
// of its n-grams' buckets (Vocabulary.WordVector).
type Subwords struct {
	MinN, MaxN int   // n-gram lengths, in characters
	Buckets    int64 // rows of the subword table
	t          *Table
}

// AppendBuckets appends the buckets of the character n-grams of word to
// dst, in fastText's order (format/SPEC.md, "Subwords"), and returns the
// extended slice. It allocates only to grow dst.
func (s *Subwords) AppendBuckets(dst []int64, word string) []int64 {
	return s.scheme().AppendBuckets(dst, unsafe.Slice(unsafe.StringData(word), len(word)))
}

// Lookup writes the subword rows buckets[i] to dst[i*Dim():(i+1)*Dim()],
// decoded as Lookup decodes token rows. A bucket outside the table is an
// *IndexError.
func (s *Subwords) Lookup(dst []float32, buckets []int64) error {
	t := s.t
	if len(dst) != len(buckets)*t.hdr.Dim {
		return fmt.Errorf("embstore: output holds %d values, %d rows of %d need %d", len(dst), len(buckets), t.hdr.Dim, len(buckets)*t.hdr.Dim)
	}
	if bad := kernel.CheckIDs(buckets, t.sec.subRows); bad >= 0 {
		return &IndexError{Arg: "buckets", Index: bad, Value: buckets[bad], Limit: t.sec.subRows, What: "subword table"}
	}
	return t.read(func() error {
		if t.sec.sub != nil {
			return t.kernelErr(kernel.Gather(dst, t.sec.sub, buckets), buckets, t.sec.subRows, "buckets", "subword table")
		}
		sc := rowScratchPool.Get().(*rowScratch)
		defer rowScratchPool.Put(sc)
		if cap(sc.raw) < t.sec.subStride {
			sc.raw = make([]byte, t.sec.subStride)
		}
		dim := t.hdr.Dim
		for i, b := range buckets {
			if _, err := t.subwordRow(dst[i*dim:(i+1)*dim], sc.raw, b); err != nil {
				return err
			}
		}
		return nil
	})
}

// oovVector writes the mean of the n-gram rows of word to dst. It runs
// inside a table call.
func (t *Table) oovVector(dst []float32, word string) error {
	sc := rowScratchPool.Get().(*rowScratch)
	defer rowScratchPool.Put(sc)
	sch := wordScheme(t.sec.minN, t.sec.maxN, t.sec.subRows)
	sc.buckets = sch.AppendBuckets(sc.buckets[:0], unsafe.Slice(unsafe.StringData(word), len(word)))
	if len(sc.buckets) == 0 {
		return errNoNgrams
	}
	if cap(sc.row) < t.hdr.Dim {
		sc.row = make([]float32, t.hdr.Dim)
	}
	if cap(sc.raw) < t.sec.subStride {
		sc.raw = make([]byte, t.sec.subStride)
	}
	row := sc.row[:t.hdr.Dim]
	return sch.OOVVector(dst, sc.buckets, func(b int64) ([]float32, error) { return t.subwordRow(row, sc.raw, b) })
}

// wordScheme is fastText's n-gram hashing with the table's parameters.
func wordScheme(minN, maxN int, buckets int64) wordvec.Subwords {
	return wordvec.Subwords{MinN: minN, MaxN: maxN, Bucket: buckets}
}

func (s *Subwords) scheme() wordvec.Subwords { return wordScheme(s.MinN, s.MaxN, s.Buckets) }
