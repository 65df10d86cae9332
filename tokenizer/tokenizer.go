package tokenizer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer turns text into token ids and back, as the Hugging Face
// tokenizer.json it was loaded from does. It is immutable after Load and safe
// for concurrent use.
type Tokenizer struct {
	model      model
	normalizer normalizer // nil: none
	pre        preTokenizer
	post       *postProcessor
	dec        decoder // nil: tokens joined with spaces

	added          []*addedToken
	addedByID      map[int32]*addedToken
	addedByContent map[string]*addedToken
	rawMatcher     *matcher // added tokens matched on the raw text
	normMatcher    *matcher // normalized added tokens, matched after normalization
	specialByText  map[string]bool

	// vocab is every id's token string (model vocabulary, then added tokens);
	// hasID says which ids exist.
	vocab   []string
	hasID   []bool
	tokenID map[string]int32 // model vocabulary (added tokens take precedence, see TokenToID)

	info  Info
	pool  sync.Pool
	fused bool // ByteLevel mapping deferred to the model
}

// model is the word-level step: the ids of one pre-token.
type model interface {
	encodeWord(st *state, p piece, dst []int64) []int64
}

// state is the scratch memory of one Encode call; states are pooled.
type state struct {
	arena                   []byte
	clean                   []byte
	key                     []byte
	spans                   []span
	segs1                   []segment
	segs2                   []segment
	piecesA, piecesB, spare []piece
	syms                    []sym
	heap                    []mergeItem
	// The BPE word cache: word -> offset<<8|count in cacheIDs.
	cache    map[string]uint32
	cacheIDs []int32
	// heapOps counts the priority queue's pushes and pops (each O(log n)),
	// for the test that BPE stays O(n log n) on long words.
	heapOps int
	iter    norm.Iter
}

// begin returns the free tail of the arena to append one string to; end
// seals it. Strings made this way live until the state is reused.
func (st *state) begin() []byte { return st.arena[len(st.arena):] }

func (st *state) end(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	n := len(st.arena)
	if cap(st.arena)-n >= len(b) && unsafe.SliceData(st.arena[n:cap(st.arena)]) == unsafe.SliceData(b) {
		st.arena = st.arena[:n+len(b)]
	} else {
		// append moved to a larger array: carry on in that one; strings made
		// before keep the old array alive.
		st.arena = b
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (t *Tokenizer) getState() *state {
	if st, ok := t.pool.Get().(*state); ok {
		return st
	}
	return &state{arena: make([]byte, 0, 4096)}
}

func (t *Tokenizer) putState(st *state) {
	if cap(st.arena) > 1<<24 {
		st.arena = make([]byte, 0, 4096)
	}
	if cap(st.clean) > 1<<24 {
		st.clean = nil
	}
	if cap(st.syms) > 1<<20 {
		st.syms, st.heap = nil, nil
	}
	st.arena = st.arena[:0]
	t.pool.Put(st)
}

// Encode appends the ids of text to dst and returns it. With
// addSpecialTokens the post-processor's special tokens ([CLS] ... [SEP],
// <s> ...) are added, as Hugging Face's encode(text, add_special_tokens)
// does. Text that is not valid UTF-8 is first repaired: every ill-formed
// sequence becomes U+FFFD (one per maximal subpart, as Rust's
// String::from_utf8_lossy and Python's bytes.decode(errors="replace") do).
func (t *Tokenizer) Encode(dst []int64, text string, addSpecialTokens bool) []int64 {
	st := t.getState()
	defer t.putState(st)
	text, st.clean = sanitizeUTF8(st.clean, text)
	if addSpecialTokens && t.post != nil {
		dst = append(dst, t.post.prefix...)
	}
	dst = t.encodeBody(st, text, dst)
	if addSpecialTokens && t.post != nil {
		dst = append(dst, t.post.suffix...)
	}
	return dst
}

func (t *Tokenizer) encodeBody(st *state, text string, dst []int64) []int64 {
	segs := splitAdded(t.rawMatcher, text, st.segs1[:0])
	st.segs1 = segs
	for _, sg := range segs {
		if sg.tok != nil {
			dst = append(dst, int64(sg.tok.id))
			continue
		}
		s := sg.s
		if t.normalizer != nil {
			s = t.normalizer.normalize(st, s)
		}
		inner := splitAdded(t.normMatcher, s, st.segs2[:0])
		st.segs2 = inner
		for _, sub := range inner {
			if sub.tok != nil {
				dst = append(dst, int64(sub.tok.id))
				continue
			}
			if sub.s == "" {
				continue
			}
			in := append(st.piecesA[:0], piece{s: sub.s, atStart: sg.start == 0 && sub.start == 0})
			pieces := in
			if t.pre != nil {
				pieces = t.pre.split(st, in, st.piecesB[:0])
				st.piecesA, st.piecesB = in[:0], pieces[:0]
			} else {
				st.piecesA = in[:0]
			}
			for _, p := range pieces {
				dst = t.model.encodeWord(st, p, dst)
			}
		}
	}
	return dst
}

// IDError reports ids that do not belong to the vocabulary.
type IDError struct {
	ID        int64
	VocabSize int
}

func (e *IDError) Error() string {
	return fmt.Sprintf("token id %d is not in the vocabulary (ids 0..%d)", e.ID, e.VocabSize-1)
}

// Token returns the string of token id: the added token's content or the
// model vocabulary's entry (for byte-level BPE, the printable form such as
// "Ġworld").
func (t *Tokenizer) Token(id int64) (string, bool) {
	if id < 0 || id >= int64(len(t.vocab)) || !t.hasID[id] {
		return "", false
	}
	return t.vocab[id], true
}

// Tokens returns the token strings of ids, or an *IDError for the first id
// outside the vocabulary.
func (t *Tokenizer) Tokens(ids []int64) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		s, ok := t.Token(id)
		if !ok {
			return nil, &IDError{ID: id, VocabSize: len(t.vocab)}
		}
		out[i] = s
	}
	return out, nil
}

// TokenToID returns the id of an exact token string (added tokens first,
// then the model vocabulary).
func (t *Tokenizer) TokenToID(token string) (int64, bool) {
	if a, ok := t.addedByContent[token]; ok {
		return int64(a.id), true
	}
	if id, ok := t.tokenID[token]; ok {
		return int64(id), true
	}
	return 0, false
}

// VocabSize returns the number of ids: the largest id plus one. Every id
// Encode returns is below it.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Vocabulary returns the token string of every id, indexed by id; ids that
// no token has (gaps) hold "" and ok[id] false.
func (t *Tokenizer) Vocabulary() (tokens []string, ok []bool) {
	return append([]string(nil), t.vocab...), append([]bool(nil), t.hasID...)
}

// Decode returns the text of ids, through the tokenizer's decoder. With
// skipSpecialTokens the special added tokens are left out. An id outside the
// vocabulary is an *IDError (Hugging Face skips it silently).
func (t *Tokenizer) Decode(ids []int64, skipSpecialTokens bool) (string, error) {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= int64(len(t.vocab)) || !t.hasID[id] {
			return "", &IDError{ID: id, VocabSize: len(t.vocab)}
		}
		s := t.vocab[id]
		if a, ok := t.addedByID[int32(id)]; ok {
			s = a.pattern // Hugging Face returns a normalized token's normalized form
		}
		if skipSpecialTokens && t.specialByText[s] {
			continue
		}
		toks = append(toks, s)
	}
	if t.dec == nil {
		return strings.Join(toks, " "), nil
	}
	return strings.Join(t.dec.decodeChain(toks), ""), nil
}

// Info describes a tokenizer for people (embpack inspect) and provenance.
type Info struct {
	Model         string   `json:"model"`                    // "BPE", "WordPiece", "WordLevel"
	ModelDetail   string   `json:"model_detail"`             // options that matter, e.g. "byte_fallback, fuse_unk"
	Normalizer    string   `json:"normalizer,omitempty"`     // e.g. "Sequence[Prepend(\"▁\"), Replace(\" \" -> \"▁\")]"
	PreTokenizer  string   `json:"pre_tokenizer,omitempty"`  // e.g. "ByteLevel(add_prefix_space=false, use_regex=true)"
	PostProcessor string   `json:"post_processor,omitempty"` // e.g. "TemplateProcessing([CLS] $A [SEP])"
	Decoder       string   `json:"decoder,omitempty"`
	VocabSize     int      `json:"vocab_size"`        // largest id + 1
	ModelTokens   int      `json:"model_tokens"`      // entries of the model vocabulary
	AddedTokens   int      `json:"added_tokens"`      // entries of added_tokens
	SpecialTokens []string `json:"special_tokens"`    // contents of the special added tokens, by id
	Ignored       []string `json:"ignored,omitempty"` // settings present but not applied (truncation, padding)
}

// Info returns the tokenizer's description.
func (t *Tokenizer) Info() Info {
	in := t.info
	in.SpecialTokens = append([]string(nil), in.SpecialTokens...)
	in.Ignored = append([]string(nil), in.Ignored...)
	return in
}

// postProcessor holds the special ids that add_special_tokens puts around a
// single sequence.
type postProcessor struct {
	prefix, suffix []int64
	desc           string
}

// ErrUnsupported is wrapped by the errors of Load for components or options
// this package does not implement (errors.Is(err, ErrUnsupported)).
var ErrUnsupported = errors.New("not supported")

func quote(s string) string { return strconv.Quote(s) }
