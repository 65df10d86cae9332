package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The reference files: real tokenizers and the ids transformers.js gives for
// a corpus of hard texts (testdata/tokenizers/README.md says where they come
// from).
const refDir = "../testdata/tokenizers"

var refNames = []string{"gpt2", "llama2", "llama3", "qwen3", "bert"}

// readRef reads a file of the reference directory, decompressing .zst.
func readRef(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(refDir, name))
	if err != nil && !strings.HasSuffix(name, ".zst") {
		if b2, err2 := os.ReadFile(filepath.Join(refDir, name+".zst")); err2 == nil {
			b, err, name = b2, nil, name+".zst"
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".zst") {
		d, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if b, err = d.DecodeAll(b, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

var (
	refMu   sync.Mutex
	refToks = map[string]*Tokenizer{}
)

// refTokenizer loads NAME/tokenizer.json once.
func refTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	refMu.Lock()
	defer refMu.Unlock()
	if tk, ok := refToks[name]; ok {
		return tk
	}
	tk, err := Load(readRef(t, name+"/tokenizer.json"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	refToks[name] = tk
	return tk
}

func readCorpus(t testing.TB) []string {
	t.Helper()
	var texts []string
	sc := bufio.NewScanner(bytes.NewReader(readRef(t, "corpus.jsonl")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s string
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, s)
	}
	return texts
}

type refCase struct {
	TextIndex      int     `json:"text_index"`
	IDsSpecial     []int64 `json:"ids_special"`
	IDsPlain       []int64 `json:"ids_plain"`
	DecodedSpecial *string `json:"decoded_special"`
}

type refDisagreement struct {
	TextIndex int             `json:"text_index"`
	Oracle    string          `json:"oracle"`
	Field     string          `json:"field"`
	Other     json.RawMessage `json:"other"`
}

type refExpected struct {
	Cases         []refCase         `json:"cases"`
	Disagreements []refDisagreement `json:"disagreements"`
}

func readExpected(t testing.TB, name string) refExpected {
	t.Helper()
	var e refExpected
	if err := json.Unmarshal(readRef(t, "expected/"+name+".json"), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// rustCase is an entry of rust_behaviour.json: what Hugging Face's Rust
// tokenizers give (by the oracle named there) on a text where transformers.js
// is known to differ.
type rustCase struct {
	TextIndex      int     `json:"text_index"`
	IDsSpecial     []int64 `json:"ids_special"`
	IDsPlain       []int64 `json:"ids_plain"`
	DecodedSpecial string  `json:"decoded_special"`
	Oracle         string  `json:"oracle"`
}

// rustOverrides are the texts where this package follows the Rust library
// rather than transformers.js, and why.
var rustReasons = map[string]string{
	"gpt2": "GPT-2's split regex: transformers.js uses the JavaScript \\s (with U+FEFF, without U+0085); " +
		"the Rust library's Oniguruma uses Unicode White_Space, as do tiktoken and this package",
	"bert": "BertNormalizer: transformers.js walks UTF-16 code units (supplementary-plane ideographs are not isolated), " +
		"lowercases with String.toLowerCase (final sigma) and keeps unassigned code points; the Rust library does none of that",
}

func readRustCases(t testing.TB) map[string]map[int]rustCase {
	t.Helper()
	var f struct {
		Cases map[string][]rustCase `json:"cases"`
	}
	if err := json.Unmarshal(readRef(t, "rust_behaviour.json"), &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int]rustCase{}
	for name, list := range f.Cases {
		out[name] = map[int]rustCase{}
		for _, c := range list {
			out[name][c.TextIndex] = c
		}
	}
	return out
}

// canonicalRef is NAME's canonical tokenizer.json (tokenizer.json with its
// tokenizer_config.json), which decodes as transformers does.
func canonicalRef(t testing.TB, name string) *Tokenizer {
	t.Helper()
	b, _, err := Canonical(Files{TokenizerJSON: readRef(t, name+"/tokenizer.json"), TokenizerConfig: readRef(t, name+"/tokenizer_config.json")})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestCorpusMatchesReference checks every corpus text against the reference
// ids, with and without special tokens, and the decoding of the reference
// ids against the reference text, for every shared tokenizer.
func TestCorpusMatchesReference(t *testing.T) {
	texts := readCorpus(t)
	rust := readRustCases(t)
	for _, name := range refNames {
		t.Run(name, func(t *testing.T) {
			tk := refTokenizer(t, name)
			canon := canonicalRef(t, name)
			e := readExpected(t, name)
			if len(e.Cases) != len(texts) {
				t.Fatalf("%d cases for %d texts", len(e.Cases), len(texts))
			}
			followed := 0
			for _, c := range e.Cases {
				text := texts[c.TextIndex]
				wantSpecial, wantPlain, wantDecoded := c.IDsSpecial, c.IDsPlain, c.DecodedSpecial
				if rc, ok := rust[name][c.TextIndex]; ok {
					// The reference is transformers.js, wrong here: assert the
					// Rust library's result instead (see rustReasons).
					if slices.Equal(rc.IDsSpecial, c.IDsSpecial) && slices.Equal(rc.IDsPlain, c.IDsPlain) {
						t.Errorf("text %d: rust_behaviour.json lists it, but it agrees with transformers.js", c.TextIndex)
					}
					wantSpecial, wantPlain, wantDecoded = rc.IDsSpecial, rc.IDsPlain, &rc.DecodedSpecial
					followed++
				}
				for _, k := range []*Tokenizer{tk, canon} {
					if got := k.Encode(nil, text, true); !slices.Equal(got, wantSpecial) {
						t.Errorf("text %d %q with special tokens:\n got  %v\n want %v", c.TextIndex, text, got, wantSpecial)
					}
					if got := k.Encode(nil, text, false); !slices.Equal(got, wantPlain) {
						t.Errorf("text %d %q without special tokens:\n got  %v\n want %v", c.TextIndex, text, got, wantPlain)
					}
				}
				got, err := canon.Decode(wantSpecial, false)
				switch {
				case err != nil:
					t.Errorf("text %d: decode: %v", c.TextIndex, err)
				case wantDecoded == nil:
					// transformers.js refuses to decode no ids; the Rust library
					// (and this package) return "".
					if len(wantSpecial) != 0 || got != "" {
						t.Errorf("text %d: decode of %v = %q, want \"\"", c.TextIndex, wantSpecial, got)
					}
				case got != *wantDecoded:
					t.Errorf("text %d: decode of %v\n got  %q\n want %q", c.TextIndex, wantSpecial, got, *wantDecoded)
				}
			}
			if followed != len(rust[name]) {
				t.Errorf("%d of the %d rust_behaviour.json texts are in the corpus", followed, len(rust[name]))
			}
			if followed > 0 {
				t.Logf("%d texts follow the Rust library, not transformers.js: %s", followed, rustReasons[name])
			}
		})
	}
}
