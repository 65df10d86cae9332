package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits on what Load accepts, so that hostile files cost bounded work and
// memory.
const (
	// maxID bounds token ids (Hugging Face stores them as u32).
	maxID = 1<<31 - 2
	// maxDepth bounds the nesting of Sequence components.
	maxDepth = 16
	// maxAddedLen bounds the length of an added token in bytes (real files
	// stay under 100): finding added tokens costs at most this many steps per
	// byte of text.
	maxAddedLen = 1024
	// idSlack bounds the gaps of the id space: the largest id may exceed the
	// number of tokens by this factor, plus 1024 (the dense id -> token table
	// is then at most a small multiple of the input's size).
	idSlack = 4
)

// LoadError reports why a tokenizer.json was refused: Component names the
// part (e.g. "model", "pre_tokenizer", "added_tokens[3]").
type LoadError struct {
	Component string
	Err       error
}

func (e *LoadError) Error() string { return "tokenizer.json " + e.Component + ": " + e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

func loadErr(component string, format string, args ...any) error {
	return &LoadError{Component: component, Err: fmt.Errorf(format, args...)}
}

func unsupported(component string, format string, args ...any) error {
	return &LoadError{Component: component, Err: fmt.Errorf(format+" is %w", append(args, ErrUnsupported)...)}
}

type fileJSON struct {
	Version       *string           `json:"version"`
	Truncation    json.RawMessage   `json:"truncation"`
	Padding       json.RawMessage   `json:"padding"`
	AddedTokens   []json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage   `json:"normalizer"`
	PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
	PostProcessor json.RawMessage   `json:"post_processor"`
	Decoder       json.RawMessage   `json:"decoder"`
	Model         json.RawMessage   `json:"model"`
}

type addedJSON struct {
	ID         *int64  `json:"id"`
	Content    *string `json:"content"`
	SingleWord bool    `json:"single_word"`
	LStrip     bool    `json:"lstrip"`
	RStrip     bool    `json:"rstrip"`
	Normalized *bool   `json:"normalized"`
	Special    bool    `json:"special"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// Load parses and checks a Hugging Face tokenizer.json. Everything it does
// not implement exactly is refused with a *LoadError naming the component
// (wrapping ErrUnsupported), never approximated.
func Load(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, &LoadError{Component: "file", Err: fmt.Errorf("not a tokenizer.json: %v", err)}
	}
	if f.Version != nil && *f.Version != "1.0" {
		return nil, loadErr("version", "%q is not 1.0", *f.Version)
	}
	if isNull(f.Model) {
		return nil, loadErr("model", "missing")
	}
	t := &Tokenizer{addedByID: map[int32]*addedToken{}, specialByText: map[string]bool{}}
	var err error
	if !isNull(f.Truncation) {
		t.info.Ignored = append(t.info.Ignored, "truncation")
	}
	if !isNull(f.Padding) {
		t.info.Ignored = append(t.info.Ignored, "padding")
	}

	// The model first: added tokens are checked against its vocabulary.
	mvocab, err := t.loadModel(f.Model)
	if err != nil {
		return nil, err
	}
	if t.normalizer, err = parseNormalizer(f.Normalizer, "normalizer", 0); err != nil {
		return nil, err
	}
	if t.normalizer != nil {
		t.info.Normalizer = t.normalizer.describe()
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer", 0); err != nil {
		return nil, err
	}
	if t.pre != nil {
		t.info.PreTokenizer = t.pre.describe()
	}
	if err := t.loadAdded(f.AddedTokens, mvocab); err != nil {
		return nil, err
	}
	if err := t.buildVocab(mvocab); err != nil {
		return nil, err
	}
	if t.post, err = t.parsePost(f.PostProcessor, "post_processor", 0); err != nil {
		return nil, err
	}
	if t.post != nil {
		t.info.PostProcessor = t.post.desc
	}
	if t.dec, err = parseDecoder(f.Decoder, "decoder", 0); err != nil {
		return nil, err
	}
	if t.dec != nil {
		t.info.Decoder = t.dec.describe()
	}
	if err := t.checkMetaspace(); err != nil {
		return nil, err
	}
	t.setupByteLevel()
	return t, nil
}

// ---- model ----

type modelJSON struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 *bool           `json:"fuse_unk"`
	ByteFallback            *bool           `json:"byte_fallback"`
	IgnoreMerges            *bool           `json:"ignore_merges"`
	MaxInputCharsPerWord    *int64          `json:"max_input_chars_per_word"`
}

func (t *Tokenizer) loadModel(raw json.RawMessage) (map[string]int32, error) {
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, loadErr("model", "%v", err)
	}
	if m.Type == "" {
		// Hugging Face guesses the model from its fields when "type" is
		// missing (old files); we do not guess.
		return nil, loadErr("model", "has no \"type\"")
	}
	t.info.Model = m.Type
	switch m.Type {
	case "BPE":
		return t.loadBPE(&m)
	case "WordPiece":
		return t.loadWordPiece(&m)
	case "WordLevel":
		return t.loadWordLevel(&m)
	case "Unigram":
		return nil, unsupported("model", "Unigram (SentencePiece unigram, as in T5 and ALBERT)")
	}
	return nil, unsupported("model", "type %q", m.Type)
}

// parseVocab reads a {"token": id, ...} object, refusing duplicate tokens,
// duplicate ids and ids out of range.
func parseVocab(raw json.RawMessage, component string) (map[string]int32, error) {
	if isNull(raw) {
		return nil, loadErr(component, "missing vocab")
	}
	var m map[string]int64
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, loadErr(component, "vocab: %v", err)
	}
	if n := countObjectKeys(raw); n != len(m) {
		return nil, loadErr(component, "vocab has %d entries for %d distinct tokens (duplicate tokens)", n, len(m))
	}
	out := make(map[string]int32, len(m))
	seen := make(map[int32]string, len(m))
	for tok, id := range m {
		if id < 0 || id > maxID {
			return nil, loadErr(component, "token %q has id %d, outside 0..%d", tok, id, maxID)
		}
		if !utf8.ValidString(tok) {
			return nil, loadErr(component, "token %q is not valid UTF-8", tok)
		}
		if other, dup := seen[int32(id)]; dup {
			a, b := other, tok
			if a > b {
				a, b = b, a
			}
			return nil, loadErr(component, "tokens %q and %q share id %d", a, b, id)
		}
		seen[int32(id)] = tok
		out[tok] = int32(id)
	}
	return out, nil
}

// countObjectKeys counts the members of the JSON object raw (which
// json.Unmarshal has accepted), so that duplicate keys, which Unmarshal
// folds silently, can be detected.
func countObjectKeys(raw []byte) int {
	depth, n := 0, 0
	inStr, esc := false, false
	expectKey := false
	for _, c := range raw {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
			if depth == 1 && expectKey {
				n++
				expectKey = false
			}
		case '{', '[':
			depth++
			if depth == 1 {
				expectKey = true
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				expectKey = true
			}
		}
	}
	return n
}

func (t *Tokenizer) loadBPE(m *modelJSON) (map[string]int32, error) {
	vocab, err := parseVocab(m.Vocab, "model")
	if err != nil {
		return nil, err
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, unsupported("model", "BPE dropout %v (random merges)", *m.Dropout)
	}
	b := &bpe{vocab: vocab, unk: -1}
	if m.UnkToken != nil {
		id, ok := vocab[*m.UnkToken]
		if !ok {
			return nil, loadErr("model", "unk_token %q is not in the vocab", *m.UnkToken)
		}
		b.unk = id
	}
	b.fuseUnk = m.FuseUnk != nil && *m.FuseUnk
	b.byteFallback = m.ByteFallback != nil && *m.ByteFallback
	b.ignoreMerges = m.IgnoreMerges != nil && *m.IgnoreMerges
	if m.ContinuingSubwordPrefix != nil {
		b.prefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		b.suffix = *m.EndOfWordSuffix
	}
	for i := range b.byteTok {
		b.byteTok[i] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.byteTok[i] = id
		}
	}
	pairs, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	b.merges = make(map[uint64]uint64, len(pairs))
	for rank, p := range pairs {
		a, ok := vocab[p[0]]
		if !ok {
			return nil, loadErr("model", "merge %d (%q %q): %q is not in the vocab", rank, p[0], p[1], p[0])
		}
		c, ok := vocab[p[1]]
		if !ok {
			return nil, loadErr("model", "merge %d (%q %q): %q is not in the vocab", rank, p[0], p[1], p[1])
		}
		right := p[1]
		if len(b.prefix) > 0 {
			if !strings.HasPrefix(right, b.prefix) {
				return nil, loadErr("model", "merge %d (%q %q): the right token lacks the continuing_subword_prefix %q", rank, p[0], p[1], b.prefix)
			}
			right = right[len(b.prefix):]
		}
		merged := p[0] + right
		id, ok := vocab[merged]
		if !ok {
			return nil, loadErr("model", "merge %d (%q %q): the merged token %q is not in the vocab", rank, p[0], p[1], merged)
		}
		// A repeated pair takes its last rank, as Hugging Face's map does.
		b.merges[uint64(uint32(a))<<32|uint64(uint32(c))] = uint64(rank)<<32 | uint64(uint32(id))
	}
	var detail []string
	if b.byteFallback {
		detail = append(detail, "byte_fallback")
	}
	if b.fuseUnk {
		detail = append(detail, "fuse_unk")
	}
	if b.ignoreMerges {
		detail = append(detail, "ignore_merges")
	}
	if m.UnkToken != nil {
		detail = append(detail, "unk_token="+quote(*m.UnkToken))
	}
	if b.prefix != "" {
		detail = append(detail, "continuing_subword_prefix="+quote(b.prefix))
	}
	if b.suffix != "" {
		detail = append(detail, "end_of_word_suffix="+quote(b.suffix))
	}
	detail = append(detail, fmt.Sprintf("%d merges", len(pairs)))
	t.info.ModelDetail = strings.Join(detail, ", ")
	t.model = b
	t.tokenID = vocab
	return vocab, nil
}

// parseMerges reads merges as ["a b", ...] or [["a", "b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, loadErr("model", "BPE without merges")
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err == nil {
		out := make([][2]string, 0, len(lines))
		for i, l := range lines {
			a, b, ok := strings.Cut(l, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, loadErr("model", "merge %d %q is not two tokens separated by one space", i, l)
			}
			out = append(out, [2]string{a, b})
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, loadErr("model", "merges: neither strings nor pairs of strings: %v", err)
	}
	out := make([][2]string, 0, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, loadErr("model", "merge %d has %d parts, not 2", i, len(p))
		}
		out = append(out, [2]string{p[0], p[1]})
	}
	return out, nil
}

func (t *Tokenizer) loadWordPiece(m *modelJSON) (map[string]int32, error) {
	vocab, err := parseVocab(m.Vocab, "model")
	if err != nil {
		return nil, err
	}
	w := &wordPiece{vocab: vocab, prefix: "##", maxChars: 100}
	unk := "[UNK]"
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	id, ok := vocab[unk]
	if !ok {
		return nil, loadErr("model", "unk_token %q is not in the vocab", unk)
	}
	w.unk = id
	if m.ContinuingSubwordPrefix != nil {
		w.prefix = *m.ContinuingSubwordPrefix
	}
	if m.MaxInputCharsPerWord != nil {
		if *m.MaxInputCharsPerWord < 0 {
			return nil, loadErr("model", "max_input_chars_per_word %d is negative", *m.MaxInputCharsPerWord)
		}
		w.maxChars = int(min(*m.MaxInputCharsPerWord, math.MaxInt32))
	}
	lens := map[int]bool{}
	for tok := range vocab {
		lens[len(tok)] = true
	}
	for n := range lens {
		w.lens = append(w.lens, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(w.lens)))
	t.info.ModelDetail = fmt.Sprintf("unk_token=%s, continuing_subword_prefix=%s, max_input_chars_per_word=%d", quote(unk), quote(w.prefix), w.maxChars)
	t.model = w
	t.tokenID = vocab
	return vocab, nil
}

func (t *Tokenizer) loadWordLevel(m *modelJSON) (map[string]int32, error) {
	vocab, err := parseVocab(m.Vocab, "model")
	if err != nil {
		return nil, err
	}
	if m.UnkToken == nil {
		return nil, loadErr("model", "WordLevel without unk_token")
	}
	id, ok := vocab[*m.UnkToken]
	if !ok {
		return nil, loadErr("model", "unk_token %q is not in the vocab", *m.UnkToken)
	}
	t.info.ModelDetail = "unk_token=" + quote(*m.UnkToken)
	t.model = &wordLevel{vocab: vocab, unk: id}
	t.tokenID = vocab
	return vocab, nil
}

// ---- added tokens ----

func (t *Tokenizer) loadAdded(list []json.RawMessage, mvocab map[string]int32) error {
	// Hugging Face gives an added token the model's id for its content, or
	// the next id after the vocabulary (in list order); the id written in the
	// file is only checked. We refuse files where the two differ rather than
	// pick one.
	next := int64(len(mvocab))
	maxModel := int64(-1)
	for _, id := range mvocab {
		maxModel = max(maxModel, int64(id))
	}
	if maxModel >= next {
		next = maxModel + 1
	}
	byContent := map[string]*addedToken{}
	var rawToks, normToks []*addedToken
	for i, raw := range list {
		comp := fmt.Sprintf("added_tokens[%d]", i)
		var a addedJSON
		if err := json.Unmarshal(raw, &a); err != nil {
			return loadErr(comp, "%v", err)
		}
		if a.Content == nil || a.ID == nil {
			return loadErr(comp, "needs \"id\" and \"content\"")
		}
		if *a.Content == "" {
			continue // Hugging Face ignores empty added tokens
		}
		if !utf8.ValidString(*a.Content) {
			return loadErr(comp, "content %q is not valid UTF-8", *a.Content)
		}
		if len(*a.Content) > maxAddedLen {
			return loadErr(comp, "content of %d bytes is longer than %d", len(*a.Content), maxAddedLen)
		}
		if _, dup := byContent[*a.Content]; dup {
			return loadErr(comp, "%q is listed twice", *a.Content)
		}
		want := *a.ID
		var id int64
		if mid, ok := mvocab[*a.Content]; ok {
			id = int64(mid)
		} else {
			id = next
			next++
		}
		if want != id {
			return loadErr(comp, "%q has id %d, but Hugging Face would give it id %d", *a.Content, want, id)
		}
		if id > maxID {
			return loadErr(comp, "id %d is out of range", id)
		}
		if _, dup := t.addedByID[int32(id)]; dup {
			return loadErr(comp, "id %d is used twice", id)
		}
		normalized := !a.Special
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		tok := &addedToken{id: int32(id), content: *a.Content, special: a.Special, lstrip: a.LStrip, rstrip: a.RStrip,
			singleWord: a.SingleWord, normalized: normalized, pattern: *a.Content}
		if normalized && t.normalizer != nil {
			st := &state{}
			tok.pattern = strings.Clone(t.normalizer.normalize(st, tok.content))
		}
		byContent[tok.content] = tok
		t.addedByID[tok.id] = tok
		t.added = append(t.added, tok)
		if tok.special {
			t.specialByText[tok.content] = true
		}
		if normalized {
			normToks = append(normToks, tok)
		} else {
			rawToks = append(rawToks, tok)
		}
	}
	t.addedByContent = byContent
	t.rawMatcher = newMatcher(rawToks)
	t.normMatcher = newMatcher(normToks)
	t.info.AddedTokens = len(t.added)
	return nil
}

// buildVocab makes the dense id -> token table.
func (t *Tokenizer) buildVocab(mvocab map[string]int32) error {
	top := int64(-1)
	for _, id := range mvocab {
		top = max(top, int64(id))
	}
	for _, a := range t.added {
		top = max(top, int64(a.id))
	}
	count := int64(len(mvocab) + len(t.added))
	if top+1 > idSlack*count+1024 {
		return loadErr("model", "largest id %d for %d tokens: the id space has gaps larger than %dx the vocabulary", top, count, idSlack)
	}
	t.vocab = make([]string, top+1)
	t.hasID = make([]bool, top+1)
	for tok, id := range mvocab {
		t.vocab[id], t.hasID[id] = tok, true
	}
	for _, a := range t.added {
		t.vocab[a.id], t.hasID[a.id] = a.content, true
	}
	t.info.VocabSize = len(t.vocab)
	t.info.ModelTokens = len(mvocab)
	ids := make([]int, 0)
	for _, a := range t.added {
		if a.special {
			ids = append(ids, int(a.id))
		}
	}
	sort.Ints(ids)
	for _, id := range ids {
		t.info.SpecialTokens = append(t.info.SpecialTokens, t.vocab[id])
	}
	return nil
}

// ---- components ----

// component reads the "type" of a component object.
func component(raw json.RawMessage, where string) (string, map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", nil, loadErr(where, "%v", err)
	}
	var typ string
	if r, ok := m["type"]; ok {
		if err := json.Unmarshal(r, &typ); err != nil {
			return "", nil, loadErr(where, "type: %v", err)
		}
	}
	if typ == "" {
		return "", nil, loadErr(where, "has no \"type\"")
	}
	return typ, m, nil
}

// field decodes m[key] into v when it is present and not null.
func field(m map[string]json.RawMessage, key string, v any, where string) (bool, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return false, nil
	}
	if err := json.Unmarshal(r, v); err != nil {
		return false, loadErr(where, "%s: %v", key, err)
	}
	return true, nil
}

// stringPattern reads a {"String": s} pattern; regex patterns are reported
// through re.
func readPattern(m map[string]json.RawMessage, where string) (lit string, re string, isRe bool, err error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	ok, err := field(m, "pattern", &p, where)
	if err != nil {
		return "", "", false, err
	}
	if !ok || (p.String == nil) == (p.Regex == nil) {
		return "", "", false, loadErr(where, "pattern must be {\"String\": ...} or {\"Regex\": ...}")
	}
	if p.String != nil {
		return *p.String, "", false, nil
	}
	return "", *p.Regex, true, nil
}

func parseNormalizer(raw json.RawMessage, where string, depth int) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > maxDepth {
		return nil, loadErr(where, "nested more than %d levels", maxDepth)
	}
	typ, m, err := component(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var list []json.RawMessage
		if _, err := field(m, "normalizers", &list, where); err != nil {
			return nil, err
		}
		seq := &normSequence{}
		for i, r := range list {
			n, err := parseNormalizer(r, fmt.Sprintf("%s.normalizers[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq.list = append(seq.list, n)
			}
		}
		return seq, nil
	case "NFC":
		return &unicodeForm{norm.NFC, "NFC"}, nil
	case "NFD":
		return &unicodeForm{norm.NFD, "NFD"}, nil
	case "NFKC":
		return &unicodeForm{norm.NFKC, "NFKC"}, nil
	case "NFKD":
		return &unicodeForm{norm.NFKD, "NFKD"}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Strip":
		var l, r bool
		if _, err := field(m, "strip_left", &l, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "strip_right", &r, where); err != nil {
			return nil, err
		}
		return &strip{left: l, right: r}, nil
	case "Prepend":
		var p string
		if _, err := field(m, "prepend", &p, where); err != nil {
			return nil, err
		}
		return &prepend{prefix: p}, nil
	case "Replace":
		lit, re, isRe, err := readPattern(m, where)
		if err != nil {
			return nil, err
		}
		var content string
		if _, err := field(m, "content", &content, where); err != nil {
			return nil, err
		}
		if isRe {
			return nil, unsupported(where, "Replace with the regex %s", quote(re))
		}
		if lit == "" {
			return nil, unsupported(where, "Replace with an empty pattern")
		}
		return &replace{pattern: lit, content: content}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "BertNormalizer":
		n := &bertNormalizer{cleanText: true, chinese: true, lowercase: true}
		if _, err := field(m, "clean_text", &n.cleanText, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "handle_chinese_chars", &n.chinese, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "lowercase", &n.lowercase, where); err != nil {
			return nil, err
		}
		n.stripAccents = n.lowercase
		if _, err := field(m, "strip_accents", &n.stripAccents, where); err != nil {
			return nil, err
		}
		return n, nil
	case "Precompiled":
		return nil, unsupported(where, "normalizer Precompiled (a SentencePiece character map)")
	case "Nmt":
		return nil, unsupported(where, "normalizer Nmt")
	}
	return nil, unsupported(where, "normalizer %q", typ)
}

func parseBehavior(m map[string]json.RawMessage, where string, def splitBehavior) (splitBehavior, error) {
	var s string
	ok, err := field(m, "behavior", &s, where)
	if err != nil || !ok {
		return def, err
	}
	b, known := behaviorNames[s]
	if !known {
		return 0, loadErr(where, "unknown behavior %q", s)
	}
	return b, nil
}

func parsePreTokenizer(raw json.RawMessage, where string, depth int) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > maxDepth {
		return nil, loadErr(where, "nested more than %d levels", maxDepth)
	}
	typ, m, err := component(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var list []json.RawMessage
		if _, err := field(m, "pretokenizers", &list, where); err != nil {
			return nil, err
		}
		seq := &preSequence{}
		for i, r := range list {
			p, err := parsePreTokenizer(r, fmt.Sprintf("%s.pretokenizers[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			if p != nil {
				seq.list = append(seq.list, p)
			}
		}
		return seq, nil
	case "ByteLevel":
		p := &byteLevelPre{addPrefixSpace: true, useRegex: true}
		if _, err := field(m, "add_prefix_space", &p.addPrefixSpace, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "use_regex", &p.useRegex, where); err != nil {
			return nil, err
		}
		return p, nil
	case "Split":
		var invert bool
		if _, err := field(m, "invert", &invert, where); err != nil {
			return nil, err
		}
		b, err := parseBehavior(m, where, behRemoved)
		if err != nil {
			return nil, err
		}
		if _, ok := m["behavior"]; !ok {
			return nil, loadErr(where, "Split without behavior")
		}
		lit, re, isRe, err := readPattern(m, where)
		if err != nil {
			return nil, err
		}
		var pat pattern
		if isRe {
			pat = knownPattern(re)
			if pat == nil {
				return nil, unsupported(where, "pre_tokenizer Split with pattern %s", quote(re))
			}
		} else {
			if lit == "" {
				return nil, unsupported(where, "Split with an empty pattern")
			}
			pat = &literal{lit: lit}
		}
		return &splitPre{pat: pat, behavior: b, invert: invert}, nil
	case "Metaspace":
		var rep string
		if _, err := field(m, "replacement", &rep, where); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(rep) != 1 {
			return nil, loadErr(where, "replacement %q is not one character", rep)
		}
		r, _ := utf8.DecodeRuneInString(rep)
		p := &metaspacePre{replacement: r, rep: rep, scheme: prependAlways, splitOn: true}
		var scheme string
		if ok, err := field(m, "prepend_scheme", &scheme, where); err != nil {
			return nil, err
		} else if ok {
			switch scheme {
			case "always":
				p.scheme = prependAlways
			case "first":
				p.scheme = prependFirst
			case "never":
				p.scheme = prependNever
			default:
				return nil, loadErr(where, "unknown prepend_scheme %q", scheme)
			}
		}
		var aps bool
		if ok, err := field(m, "add_prefix_space", &aps, where); err != nil {
			return nil, err
		} else if ok && !aps {
			if _, given := m["prepend_scheme"]; given && p.scheme != prependNever {
				return nil, loadErr(where, "add_prefix_space does not match declared prepend_scheme")
			}
			p.scheme = prependNever
		}
		if _, err := field(m, "split", &p.splitOn, where); err != nil {
			return nil, err
		}
		return p, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return &charSplitPre{name: "WhitespaceSplit", pred: isWhiteSpace, behavior: behRemoved}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Digits":
		var individual bool
		if _, err := field(m, "individual_digits", &individual, where); err != nil {
			return nil, err
		}
		b := behContiguous
		if individual {
			b = behIsolated
		}
		return &charSplitPre{name: "Digits(individual_digits=" + boolStr(individual) + ")", pred: isNumber, behavior: b}, nil
	case "Punctuation":
		b, err := parseBehavior(m, where, behIsolated)
		if err != nil {
			return nil, err
		}
		return &charSplitPre{name: "Punctuation(" + b.String() + ")", pred: isPunct, behavior: b}, nil
	case "CharDelimiterSplit":
		var d string
		if _, err := field(m, "delimiter", &d, where); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(d) != 1 {
			return nil, loadErr(where, "delimiter %q is not one character", d)
		}
		r, _ := utf8.DecodeRuneInString(d)
		return &charSplitPre{name: "CharDelimiterSplit(" + quote(d) + ")", pred: func(c rune) bool { return c == r }, behavior: behRemoved}, nil
	}
	return nil, unsupported(where, "pre_tokenizer %q", typ)
}

// knownPattern returns the scanner of a Split regex that real models ship,
// or nil.
func knownPattern(re string) pattern {
	switch re {
	case patGPT2:
		return &gptScan{text: re}
	case patCL100K:
		return &gptScan{text: re, cl100k: true, maxDigits: 3}
	case patQwen2:
		return &gptScan{text: re, cl100k: true, maxDigits: 1}
	case patO200K:
		return &gptScan{text: re, o200k: true}
	}
	return nil
}

func (t *Tokenizer) specialIDs(tokens []string, where string) ([]int64, error) {
	var out []int64
	for _, s := range tokens {
		id, ok := t.TokenToID(s)
		if !ok {
			return nil, loadErr(where, "special token %q is not in the vocabulary", s)
		}
		out = append(out, id)
	}
	return out, nil
}

func (t *Tokenizer) parsePost(raw json.RawMessage, where string, depth int) (*postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > maxDepth {
		return nil, loadErr(where, "nested more than %d levels", maxDepth)
	}
	typ, m, err := component(raw, where)
	if err != nil {
		return nil, err
	}
	// clsSep reads BertProcessing / RobertaProcessing's ["token", id] pairs.
	clsSep := func() (*postProcessor, error) {
		var cls, sep [2]json.RawMessage
		if _, err := field(m, "cls", &cls, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "sep", &sep, where); err != nil {
			return nil, err
		}
		var p postProcessor
		for k, pair := range [][2]json.RawMessage{cls, sep} {
			var s string
			var id int64
			if err := json.Unmarshal(pair[0], &s); err != nil {
				return nil, loadErr(where, "cls/sep: %v", err)
			}
			if err := json.Unmarshal(pair[1], &id); err != nil {
				return nil, loadErr(where, "cls/sep: %v", err)
			}
			if id < 0 || id >= int64(len(t.vocab)) || !t.hasID[id] {
				return nil, loadErr(where, "%q has id %d, outside the vocabulary", s, id)
			}
			if k == 0 {
				p.prefix = []int64{id}
			} else {
				p.suffix = []int64{id}
			}
		}
		p.desc = fmt.Sprintf("%s(%s $A %s)", typ, quote(t.vocab[p.prefix[0]]), quote(t.vocab[p.suffix[0]]))
		return &p, nil
	}
	switch typ {
	case "ByteLevel":
		return &postProcessor{desc: "ByteLevel"}, nil
	case "BertProcessing", "RobertaProcessing":
		return clsSep()
	case "TemplateProcessing":
		var single []map[string]struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		}
		if _, err := field(m, "single", &single, where); err != nil {
			return nil, err
		}
		var specials map[string]struct {
			ID  string  `json:"id"`
			IDs []int64 `json:"ids"`
		}
		if _, err := field(m, "special_tokens", &specials, where); err != nil {
			return nil, err
		}
		p := &postProcessor{}
		seen := 0
		var desc []string
		for i, item := range single {
			if len(item) != 1 {
				return nil, loadErr(where, "single[%d] is not one SpecialToken or Sequence", i)
			}
			for kind, v := range item {
				switch kind {
				case "Sequence":
					if v.ID != "A" {
						return nil, unsupported(where, "a single-sequence template with sequence %q", v.ID)
					}
					seen++
					desc = append(desc, "$A")
				case "SpecialToken":
					sp, ok := specials[v.ID]
					if !ok {
						return nil, loadErr(where, "single[%d]: special token %q is not in special_tokens", i, v.ID)
					}
					for _, id := range sp.IDs {
						if id < 0 || id >= int64(len(t.vocab)) || !t.hasID[id] {
							return nil, loadErr(where, "special token %q has id %d, outside the vocabulary", v.ID, id)
						}
						if seen == 0 {
							p.prefix = append(p.prefix, id)
						} else {
							p.suffix = append(p.suffix, id)
						}
					}
					desc = append(desc, v.ID)
				default:
					return nil, loadErr(where, "single[%d]: unknown piece %q", i, kind)
				}
			}
		}
		if seen != 1 {
			return nil, unsupported(where, "a single-sequence template with %d sequences", seen)
		}
		p.desc = "TemplateProcessing(" + strings.Join(desc, " ") + ")"
		return p, nil
	case "Sequence":
		var list []json.RawMessage
		if _, err := field(m, "processors", &list, where); err != nil {
			return nil, err
		}
		out := &postProcessor{}
		var desc []string
		for i, r := range list {
			p, err := t.parsePost(r, fmt.Sprintf("%s.processors[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			if p == nil {
				continue
			}
			out.prefix = append(append([]int64(nil), p.prefix...), out.prefix...)
			out.suffix = append(out.suffix, p.suffix...)
			desc = append(desc, p.desc)
		}
		out.desc = "Sequence[" + strings.Join(desc, ", ") + "]"
		return out, nil
	}
	return nil, unsupported(where, "post_processor %q", typ)
}

func parseDecoder(raw json.RawMessage, where string, depth int) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	if depth > maxDepth {
		return nil, loadErr(where, "nested more than %d levels", maxDepth)
	}
	typ, m, err := component(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var list []json.RawMessage
		if _, err := field(m, "decoders", &list, where); err != nil {
			return nil, err
		}
		seq := &decSequence{}
		for i, r := range list {
			d, err := parseDecoder(r, fmt.Sprintf("%s.decoders[%d]", where, i), depth+1)
			if err != nil {
				return nil, err
			}
			if d != nil {
				seq.list = append(seq.list, d)
			}
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		var rep string
		if _, err := field(m, "replacement", &rep, where); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(rep) != 1 {
			return nil, loadErr(where, "replacement %q is not one character", rep)
		}
		r, _ := utf8.DecodeRuneInString(rep)
		d := &metaspaceDec{replacement: r, scheme: prependAlways}
		var scheme string
		if ok, err := field(m, "prepend_scheme", &scheme, where); err != nil {
			return nil, err
		} else if ok {
			switch scheme {
			case "always":
			case "first":
				d.scheme = prependFirst
			case "never":
				d.scheme = prependNever
			default:
				return nil, loadErr(where, "unknown prepend_scheme %q", scheme)
			}
		}
		var aps bool
		if ok, err := field(m, "add_prefix_space", &aps, where); err != nil {
			return nil, err
		} else if ok && !aps {
			d.scheme = prependNever
		}
		return d, nil
	case "WordPiece":
		d := &wordPieceDec{prefix: "##", cleanup: true}
		if _, err := field(m, "prefix", &d.prefix, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "cleanup", &d.cleanup, where); err != nil {
			return nil, err
		}
		return d, nil
	case "BPEDecoder":
		d := &bpeDec{suffix: "</w>"}
		if _, err := field(m, "suffix", &d.suffix, where); err != nil {
			return nil, err
		}
		return d, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		var content string
		d := &stripDec{}
		if _, err := field(m, "content", &content, where); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(content) != 1 {
			return nil, loadErr(where, "content %q is not one character", content)
		}
		d.content, _ = utf8.DecodeRuneInString(content)
		if _, err := field(m, "start", &d.start, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "stop", &d.stop, where); err != nil {
			return nil, err
		}
		if d.start < 0 || d.stop < 0 {
			return nil, loadErr(where, "negative start or stop")
		}
		return d, nil
	case "Replace":
		lit, re, isRe, err := readPattern(m, where)
		if err != nil {
			return nil, err
		}
		var content string
		if _, err := field(m, "content", &content, where); err != nil {
			return nil, err
		}
		if isRe {
			return nil, unsupported(where, "decoder Replace with the regex %s", quote(re))
		}
		if lit == "" {
			return nil, unsupported(where, "decoder Replace with an empty pattern")
		}
		return &replaceDec{pattern: lit, content: content}, nil
	case "CTC":
		d := &ctcDec{pad: "<pad>", delim: "|", cleanup: true}
		if _, err := field(m, "pad_token", &d.pad, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "word_delimiter_token", &d.delim, where); err != nil {
			return nil, err
		}
		if _, err := field(m, "cleanup", &d.cleanup, where); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, unsupported(where, "decoder %q", typ)
}

// checkMetaspace refuses Metaspace's prepend_scheme "first" next to
// normalizers that can delete the text's first characters: Hugging Face then
// decides "first" from character alignments that this package does not
// track.
func (t *Tokenizer) checkMetaspace() error {
	var first bool
	var walk func(p preTokenizer)
	walk = func(p preTokenizer) {
		switch x := p.(type) {
		case *preSequence:
			for _, y := range x.list {
				walk(y)
			}
		case *metaspacePre:
			if x.scheme == prependFirst {
				first = true
			}
		}
	}
	if t.pre != nil {
		walk(t.pre)
	}
	if !first || t.normalizer == nil {
		return nil
	}
	var bad string
	var check func(n normalizer)
	check = func(n normalizer) {
		switch x := n.(type) {
		case *normSequence:
			for _, y := range x.list {
				check(y)
			}
		case *unicodeForm, lowercase, *replace:
		default:
			if bad == "" {
				bad = n.describe()
			}
		}
	}
	check(t.normalizer)
	if bad != "" {
		return unsupported("pre_tokenizer", "Metaspace prepend_scheme \"first\" after the normalizer %s", bad)
	}
	return nil
}

// setupByteLevel lets a byte-level BPE read the bytes of its pre-tokens
// directly when the ByteLevel pre-tokenizer is the last step: the result is
// the same as mapping each byte to its printable character and looking
// those up, without building the mapped strings.
func (t *Tokenizer) setupByteLevel() {
	b, ok := t.model.(*bpe)
	if !ok || b.prefix != "" || b.suffix != "" {
		return
	}
	var last *byteLevelPre
	switch p := t.pre.(type) {
	case *byteLevelPre:
		last = p
	case *preSequence:
		if n := len(p.list); n > 0 {
			last, _ = p.list[n-1].(*byteLevelPre)
		}
	}
	if last == nil {
		return
	}
	for i := 0; i < 256; i++ {
		id, ok := b.vocab[byteCharUTF8[i]]
		if !ok {
			return
		}
		b.byteID[i] = id
	}
	if b.ignoreMerges {
		b.rawVocab = make(map[string]int32, len(b.vocab))
		for tok, id := range b.vocab {
			raw := make([]byte, 0, len(tok))
			ok := true
			for _, r := range tok {
				c, found := charByte[r]
				if !found {
					ok = false
					break
				}
				raw = append(raw, c)
			}
			if ok {
				b.rawVocab[string(raw)] = id
			}
		}
	}
	b.byteLevel = true
	last.deferMap = true
	t.fused = true
}
