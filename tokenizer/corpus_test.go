package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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
