package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files are the tokenizer files found beside a model's weights, by name; a
// nil field is a file that is absent.
type Files struct {
	TokenizerJSON    []byte // tokenizer.json
	VocabJSON        []byte // vocab.json (GPT-2 style BPE)
	Merges           []byte // merges.txt
	VocabTxt         []byte // vocab.txt (BERT WordPiece)
	TokenizerConfig  []byte // tokenizer_config.json
	SpecialTokensMap []byte // special_tokens_map.json
}

// Source says what a canonical tokenizer.json was made from, for messages
// and provenance.
type Source struct {
	Kind  string   `json:"kind"`            // "tokenizer.json", "vocab.json+merges.txt" or "vocab.txt"
	Files []string `json:"files"`           // the files read
	Notes []string `json:"notes,omitempty"` // what the configuration files changed or set
}

// ErrNoTokenizer is returned by FromDir when a directory holds no tokenizer
// files.
var ErrNoTokenizer = errors.New("no tokenizer.json, vocab.json + merges.txt or vocab.txt")

// FromDir reads the tokenizer files of a model directory and returns its
// canonical tokenizer.json (see Canonical).
func FromDir(dir string) ([]byte, Source, error) {
	var f Files
	for name, dst := range map[string]*[]byte{
		"tokenizer.json": &f.TokenizerJSON, "vocab.json": &f.VocabJSON, "merges.txt": &f.Merges,
		"vocab.txt": &f.VocabTxt, "tokenizer_config.json": &f.TokenizerConfig, "special_tokens_map.json": &f.SpecialTokensMap,
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, Source{}, err
		}
		*dst = b
	}
	return Canonical(f)
}

// Canonical returns the one tokenizer.json that stands for a model's
// tokenizer files, so that a table always stores a tokenizer.json:
//
//   - tokenizer.json if present, as it is, unless tokenizer_config.json sets
//     clean_up_tokenization_spaces: transformers then cleans decoded text up
//     (" ." -> "." ...), which the canonical file expresses as standard
//     decoders appended to the decoder (Fuse, then one Replace per rule);
//   - else vocab.json + merges.txt, as transformers converts a GPT-2 (or, by
//     tokenizer_class, RoBERTa) tokenizer: byte-level BPE, the special tokens
//     of the configuration, add_prefix_space, add_bos_token;
//   - else vocab.txt, as transformers converts a BERT tokenizer: WordPiece with
//     BertNormalizer (do_lower_case, tokenize_chinese_chars, strip_accents),
//     BertPreTokenizer, [CLS] $A [SEP].
//
// The result is checked with Load before it is returned.
func Canonical(f Files) ([]byte, Source, error) {
	cfg, notes, err := readConfig(f.TokenizerConfig, f.SpecialTokensMap)
	if err != nil {
		return nil, Source{}, err
	}
	var src Source
	var out []byte
	switch {
	case f.TokenizerJSON != nil:
		src = Source{Kind: "tokenizer.json", Files: []string{"tokenizer.json"}}
		out, err = canonicalJSON(f.TokenizerJSON, cfg, &src)
	case f.VocabJSON != nil && f.Merges != nil:
		src = Source{Kind: "vocab.json+merges.txt", Files: []string{"vocab.json", "merges.txt"}}
		out, err = buildByteLevelBPE(f.VocabJSON, f.Merges, cfg, &src)
	case f.VocabJSON != nil || f.Merges != nil:
		return nil, Source{}, errors.New("vocab.json and merges.txt go together: one of them is missing")
	case f.VocabTxt != nil:
		src = Source{Kind: "vocab.txt", Files: []string{"vocab.txt"}}
		out, err = buildWordPiece(f.VocabTxt, cfg, &src)
	default:
		return nil, Source{}, ErrNoTokenizer
	}
	if err != nil {
		return nil, Source{}, err
	}
	if f.TokenizerConfig != nil {
		src.Files = append(src.Files, "tokenizer_config.json")
	}
	if f.SpecialTokensMap != nil {
		src.Files = append(src.Files, "special_tokens_map.json")
	}
	src.Notes = append(notes, src.Notes...)
	if _, err := Load(out); err != nil {
		return nil, Source{}, fmt.Errorf("%s: %w", src.Kind, err)
	}
	return out, src, nil
}

// specialToken is a special token of the configuration, with its flags.
type specialToken struct {
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    *bool  `json:"special"`
}

func (s *specialToken) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = specialToken{Content: str}
		return nil
	}
	type plain specialToken
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = specialToken(p)
	return nil
}

// config is what tokenizer_config.json and special_tokens_map.json say
// that matters here.
type config struct {
	TokenizerClass *string                  `json:"tokenizer_class"`
	Cleanup        *bool                    `json:"clean_up_tokenization_spaces"`
	AddPrefixSpace *bool                    `json:"add_prefix_space"`
	AddBOS         *bool                    `json:"add_bos_token"`
	DoLowerCase    *bool                    `json:"do_lower_case"`
	ChineseChars   *bool                    `json:"tokenize_chinese_chars"`
	StripAccents   *bool                    `json:"strip_accents"`
	BOS            *specialToken            `json:"bos_token"`
	EOS            *specialToken            `json:"eos_token"`
	UNK            *specialToken            `json:"unk_token"`
	SEP            *specialToken            `json:"sep_token"`
	PAD            *specialToken            `json:"pad_token"`
	CLS            *specialToken            `json:"cls_token"`
	MASK           *specialToken            `json:"mask_token"`
	Additional     []specialToken           `json:"additional_special_tokens"`
	AddedDecoder   map[string]*specialToken `json:"added_tokens_decoder"`
}

func readConfig(tc, stm []byte) (*config, []string, error) {
	cfg := &config{}
	if tc != nil {
		if err := json.Unmarshal(tc, cfg); err != nil {
			return nil, nil, fmt.Errorf("tokenizer_config.json: %v", err)
		}
	}
	var notes []string
	if stm != nil {
		var m config
		if err := json.Unmarshal(stm, &m); err != nil {
			return nil, nil, fmt.Errorf("special_tokens_map.json: %v", err)
		}
		// transformers lets special_tokens_map.json override the config's tokens.
		for _, p := range []struct{ dst, src **specialToken }{
			{&cfg.BOS, &m.BOS}, {&cfg.EOS, &m.EOS}, {&cfg.UNK, &m.UNK}, {&cfg.SEP, &m.SEP},
			{&cfg.PAD, &m.PAD}, {&cfg.CLS, &m.CLS}, {&cfg.MASK, &m.MASK},
		} {
			if *p.src != nil {
				*p.dst = *p.src
			}
		}
		if m.Additional != nil {
			cfg.Additional = m.Additional
		}
	}
	return cfg, notes, nil
}

// canonicalJSON checks a tokenizer.json and folds tokenizer_config.json's
// clean_up_tokenization_spaces into its decoder.
func canonicalJSON(data []byte, cfg *config, src *Source) ([]byte, error) {
	if _, err := Load(data); err != nil {
		return nil, err
	}
	if cfg.Cleanup == nil || !*cfg.Cleanup {
		return data, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	dec := top["decoder"]
	if isNull(dec) {
		src.Notes = append(src.Notes, "clean_up_tokenization_spaces not applied: the tokenizer has no decoder")
		return data, nil
	}
	steps := []json.RawMessage{dec, json.RawMessage(`{"type":"Fuse"}`)}
	for _, r := range cleanupReplacements {
		steps = append(steps, mustJSON(map[string]any{"type": "Replace", "pattern": map[string]string{"String": r[0]}, "content": r[1]}))
	}
	top["decoder"] = mustJSON(map[string]any{"type": "Sequence", "decoders": steps})
	src.Notes = append(src.Notes, "decoder: clean_up_tokenization_spaces from tokenizer_config.json, as Fuse + Replace decoders")
	return mustJSON(top), nil
}

// mustJSON marshals values that cannot fail (maps, strings, raw JSON),
// without HTML escaping.
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// added is one entry of a canonical file's added_tokens.
type added struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// specialList gathers the special tokens of the configuration (the
// added_tokens_decoder map when there is one), with the ids of the
// vocabulary or new ids after it, sorted by id.
func specialList(cfg *config, vocab map[string]int64, defaults []*specialToken, normalizedDefault bool) ([]added, error) {
	next := int64(0)
	for _, id := range vocab {
		next = max(next, id+1)
	}
	seen := map[string]bool{}
	var out []added
	add := func(s *specialToken, id int64, known bool) {
		if s == nil || s.Content == "" || seen[s.Content] {
			return
		}
		seen[s.Content] = true
		if !known {
			if v, ok := vocab[s.Content]; ok {
				id = v
			} else {
				id = next
				next++
			}
		}
		a := added{ID: id, Content: s.Content, SingleWord: s.SingleWord, LStrip: s.LStrip, RStrip: s.RStrip,
			Normalized: normalizedDefault, Special: true}
		if s.Normalized != nil {
			a.Normalized = *s.Normalized
		}
		if s.Special != nil {
			a.Special = *s.Special
		}
		out = append(out, a)
	}
	if len(cfg.AddedDecoder) > 0 {
		keys := make([]string, 0, len(cfg.AddedDecoder))
		for k := range cfg.AddedDecoder {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var id int64
			if _, err := fmt.Sscan(k, &id); err != nil || id < 0 || id > maxID {
				return nil, fmt.Errorf("tokenizer_config.json: added_tokens_decoder key %q is not an id", k)
			}
			if v, ok := vocab[cfg.AddedDecoder[k].Content]; ok && v != id {
				return nil, fmt.Errorf("tokenizer_config.json: added token %q has id %d, the vocabulary says %d", cfg.AddedDecoder[k].Content, id, v)
			}
			add(cfg.AddedDecoder[k], id, true)
		}
	}
	for _, s := range defaults {
		add(s, 0, false)
	}
	for i := range cfg.Additional {
		add(&cfg.Additional[i], 0, false)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	// New ids must follow the vocabulary without gaps, as Hugging Face
	// assigns them.
	for _, a := range out {
		if _, inVocab := vocab[a.Content]; !inVocab && a.ID > next {
			return nil, fmt.Errorf("added token %q has id %d beyond the vocabulary's next id", a.Content, a.ID)
		}
	}
	return out, nil
}

func orDefault(s *specialToken, content string) *specialToken {
	if s != nil {
		return s
	}
	return &specialToken{Content: content}
}

func boolOr(b *bool, def bool) bool {
	if b != nil {
		return *b
	}
	return def
}

// vocabJSON writes a {"token": id} object ordered by id.
func vocabJSON(vocab map[string]int64) []byte {
	type kv struct {
		k string
		v int64
	}
	list := make([]kv, 0, len(vocab))
	for k, v := range vocab {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v < list[j].v })
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(mustJSON(e.k))
		fmt.Fprintf(&b, ":%d", e.v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// buildByteLevelBPE converts vocab.json + merges.txt.
func buildByteLevelBPE(vocabData, mergesData []byte, cfg *config, src *Source) ([]byte, error) {
	class := ""
	if cfg.TokenizerClass != nil {
		class = strings.TrimSuffix(*cfg.TokenizerClass, "Fast")
	}
	roberta := false
	switch class {
	case "", "GPT2Tokenizer":
	case "RobertaTokenizer":
		roberta = true
	default:
		return nil, fmt.Errorf("vocab.json + merges.txt with tokenizer_class %q: only GPT2Tokenizer and RobertaTokenizer are %w", class, ErrUnsupported)
	}
	var vocab map[string]int64
	if err := json.Unmarshal(vocabData, &vocab); err != nil {
		return nil, fmt.Errorf("vocab.json: %v", err)
	}
	if n := countObjectKeys(vocabData); n != len(vocab) {
		return nil, fmt.Errorf("vocab.json: %d entries for %d distinct tokens (duplicate tokens)", n, len(vocab))
	}
	var merges []string
	lines := strings.Split(string(mergesData), "\n")
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if i == 0 && strings.HasPrefix(l, "#version") {
			continue
		}
		if l == "" {
			if i == len(lines)-1 {
				continue
			}
			return nil, fmt.Errorf("merges.txt line %d is empty", i+1)
		}
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("merges.txt line %d %q is not two tokens separated by one space", i+1, l)
		}
		merges = append(merges, a+" "+b)
	}
	addPrefix := boolOr(cfg.AddPrefixSpace, false)
	var defaults []*specialToken
	if roberta {
		mask := orDefault(cfg.MASK, "<mask>")
		if cfg.MASK == nil {
			mask.LStrip = true
		}
		defaults = []*specialToken{orDefault(cfg.BOS, "<s>"), orDefault(cfg.PAD, "<pad>"), orDefault(cfg.EOS, "</s>"),
			orDefault(cfg.UNK, "<unk>"), mask, orDefault(cfg.SEP, "</s>"), orDefault(cfg.CLS, "<s>")}
	} else {
		defaults = []*specialToken{orDefault(cfg.BOS, "<|endoftext|>"), orDefault(cfg.EOS, "<|endoftext|>"),
			orDefault(cfg.UNK, "<|endoftext|>"), cfg.PAD}
	}
	specials, err := specialList(cfg, vocab, defaults, !roberta)
	if err != nil {
		return nil, err
	}
	var post any = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}
	idOf := func(s *specialToken) (int64, error) {
		for _, a := range specials {
			if a.Content == s.Content {
				return a.ID, nil
			}
		}
		return 0, fmt.Errorf("special token %q has no id", s.Content)
	}
	if roberta {
		cls, sep := orDefault(cfg.CLS, "<s>"), orDefault(cfg.SEP, "</s>")
		c, err := idOf(cls)
		if err != nil {
			return nil, err
		}
		s, err := idOf(sep)
		if err != nil {
			return nil, err
		}
		post = map[string]any{"type": "RobertaProcessing", "sep": []any{sep.Content, s}, "cls": []any{cls.Content, c},
			"trim_offsets": true, "add_prefix_space": addPrefix}
	} else if boolOr(cfg.AddBOS, false) {
		bos := orDefault(cfg.BOS, "<|endoftext|>")
		id, err := idOf(bos)
		if err != nil {
			return nil, err
		}
		post = map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": bos.Content, "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{map[string]any{"SpecialToken": map[string]any{"id": bos.Content, "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{bos.Content: map[string]any{"id": bos.Content, "ids": []int64{id}, "tokens": []string{bos.Content}}}}
		src.Notes = append(src.Notes, "add_bos_token: "+quote(bos.Content)+" starts every sequence")
	}
	var decoder json.RawMessage = mustJSON(map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true})
	model := fmt.Sprintf(`{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":%s,"merges":%s}`,
		vocabJSON(vocab), mustJSON(merges))
	doc := assemble(specials, nil,
		mustJSON(map[string]any{"type": "ByteLevel", "add_prefix_space": addPrefix, "trim_offsets": true, "use_regex": true}),
		mustJSON(post), decoder, []byte(model))
	if addPrefix {
		src.Notes = append(src.Notes, "add_prefix_space: true")
	}
	return finishCleanup(doc, cfg, src)
}

// buildWordPiece converts a BERT vocab.txt.
func buildWordPiece(data []byte, cfg *config, src *Source) ([]byte, error) {
	if cfg.TokenizerClass != nil {
		class := strings.TrimSuffix(*cfg.TokenizerClass, "Fast")
		switch class {
		case "BertTokenizer", "DistilBertTokenizer", "ElectraTokenizer", "LayoutLMTokenizer", "SqueezeBertTokenizer", "MobileBertTokenizer", "FunnelTokenizer", "RetriBertTokenizer":
		default:
			return nil, fmt.Errorf("vocab.txt with tokenizer_class %q: only BERT-style WordPiece tokenizers are %w", class, ErrUnsupported)
		}
	}
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	lines := strings.Split(text, "\n")
	vocab := make(map[string]int64, len(lines))
	for i, tok := range lines {
		if j, dup := vocab[tok]; dup {
			return nil, fmt.Errorf("vocab.txt: line %d repeats %q (line %d)", i+1, tok, j+1)
		}
		vocab[tok] = int64(i)
	}
	lower := boolOr(cfg.DoLowerCase, true)
	var strip any // null: follows lowercase
	if cfg.StripAccents != nil {
		strip = *cfg.StripAccents
	}
	unk, sep, cls := orDefault(cfg.UNK, "[UNK]"), orDefault(cfg.SEP, "[SEP]"), orDefault(cfg.CLS, "[CLS]")
	defaults := []*specialToken{orDefault(cfg.PAD, "[PAD]"), unk, cls, sep, orDefault(cfg.MASK, "[MASK]")}
	for _, s := range []*specialToken{unk, sep, cls} {
		if _, ok := vocab[s.Content]; !ok {
			return nil, fmt.Errorf("vocab.txt has no %q", s.Content)
		}
	}
	specials, err := specialList(cfg, vocab, defaults, false)
	if err != nil {
		return nil, err
	}
	normalizer := mustJSON(map[string]any{"type": "BertNormalizer", "clean_text": true,
		"handle_chinese_chars": boolOr(cfg.ChineseChars, true), "strip_accents": strip, "lowercase": lower})
	seq := func(id string, typeID int) any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typeID}}
	}
	sp := func(s *specialToken, typeID int) any {
		return map[string]any{"SpecialToken": map[string]any{"id": s.Content, "type_id": typeID}}
	}
	post := mustJSON(map[string]any{"type": "TemplateProcessing",
		"single": []any{sp(cls, 0), seq("A", 0), sp(sep, 0)},
		"pair":   []any{sp(cls, 0), seq("A", 0), sp(sep, 0), seq("B", 1), sp(sep, 1)},
		"special_tokens": map[string]any{
			cls.Content: map[string]any{"id": cls.Content, "ids": []int64{vocab[cls.Content]}, "tokens": []string{cls.Content}},
			sep.Content: map[string]any{"id": sep.Content, "ids": []int64{vocab[sep.Content]}, "tokens": []string{sep.Content}}}})
	model := fmt.Sprintf(`{"type":"WordPiece","unk_token":%s,"continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":%s}`,
		mustJSON(unk.Content), vocabJSON(vocab))
	doc := assemble(specials, normalizer, []byte(`{"type":"BertPreTokenizer"}`), post,
		[]byte(`{"type":"WordPiece","prefix":"##","cleanup":true}`), []byte(model))
	src.Notes = append(src.Notes, fmt.Sprintf("do_lower_case: %v", lower))
	return finishCleanup(doc, cfg, src)
}

func finishCleanup(doc []byte, cfg *config, src *Source) ([]byte, error) {
	if cfg.Cleanup != nil && *cfg.Cleanup {
		return canonicalJSON(doc, cfg, src)
	}
	return doc, nil
}

// assemble writes a tokenizer.json in Hugging Face's key order.
func assemble(specials []added, normalizer, pre, post, decoder, model []byte) []byte {
	null := func(b []byte) []byte {
		if b == nil {
			return []byte("null")
		}
		return b
	}
	if specials == nil {
		specials = []added{}
	}
	var b bytes.Buffer
	b.WriteString(`{"version":"1.0","truncation":null,"padding":null,"added_tokens":`)
	b.Write(mustJSON(specials))
	b.WriteString(`,"normalizer":`)
	b.Write(null(normalizer))
	b.WriteString(`,"pre_tokenizer":`)
	b.Write(null(pre))
	b.WriteString(`,"post_processor":`)
	b.Write(null(post))
	b.WriteString(`,"decoder":`)
	b.Write(null(decoder))
	b.WriteString(`,"model":`)
	b.Write(model)
	b.WriteString("}")
	return b.Bytes()
}
