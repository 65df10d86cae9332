package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLegacyFilesMatchTokenizerJSON builds GPT-2 from vocab.json + merges.txt
// and BERT from vocab.txt (each with its tokenizer_config.json, through a
// directory as embpack import will find them) and checks that every corpus
// text gets the same ids as from the reference tokenizer.json, and the same
// decoding.
func TestLegacyFilesMatchTokenizerJSON(t *testing.T) {
	texts := readCorpus(t)
	for _, tc := range []struct {
		name, kind string
		files      []string
	}{
		{"gpt2", "vocab.json+merges.txt", []string{"vocab.json", "merges.txt", "tokenizer_config.json"}},
		{"bert", "vocab.txt", []string{"vocab.txt", "tokenizer_config.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), readRef(t, tc.name+"/"+f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, src, err := FromDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if src.Kind != tc.kind {
				t.Errorf("kind %q, want %q", src.Kind, tc.kind)
			}
			legacy, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			ref := canonicalRef(t, tc.name)
			li, ri := legacy.Info(), ref.Info()
			if li.VocabSize != ri.VocabSize || !slices.Equal(li.SpecialTokens, ri.SpecialTokens) || li.Normalizer != ri.Normalizer ||
				li.PreTokenizer != ri.PreTokenizer || li.PostProcessor != ri.PostProcessor || li.Decoder != ri.Decoder {
				t.Errorf("info differs:\n legacy %+v\n ref    %+v", li, ri)
			}
			for i, text := range texts {
				for _, special := range []bool{true, false} {
					a, b := legacy.Encode(nil, text, special), ref.Encode(nil, text, special)
					if !slices.Equal(a, b) {
						t.Fatalf("text %d (special %v): legacy %v, tokenizer.json %v", i, special, a, b)
					}
					da, _ := legacy.Decode(a, false)
					db, _ := ref.Decode(b, false)
					if da != db {
						t.Fatalf("text %d: legacy decodes to %q, tokenizer.json to %q", i, da, db)
					}
				}
			}
		})
	}
}

// TestGPT2HelloWorld checks the example the seed-123 table will use:
// "Hello world" gets the reference ids (transformers.js, corpus text 0) from
// tokenizer.json and from vocab.json + merges.txt alike.
func TestGPT2HelloWorld(t *testing.T) {
	texts := readCorpus(t)
	if texts[0] != "Hello world" {
		t.Fatalf("corpus text 0 is %q", texts[0])
	}
	want := readExpected(t, "gpt2").Cases[0].IDsPlain
	data, _, err := Canonical(Files{VocabJSON: readRef(t, "gpt2/vocab.json"), Merges: readRef(t, "gpt2/merges.txt")})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*Tokenizer{refTokenizer(t, "gpt2"), legacy} {
		if got := tk.Encode(nil, "Hello world", true); !slices.Equal(got, want) {
			t.Fatalf("Hello world -> %v, want %v", got, want)
		}
	}
}

func TestFromDirChoosesTokenizerJSON(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := FromDir(dir); !errors.Is(err, ErrNoTokenizer) {
		t.Fatalf("empty directory: %v", err)
	}
	for _, f := range []string{"tokenizer.json", "vocab.json", "merges.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), readRef(t, "gpt2/"+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, src, err := FromDir(dir)
	if err != nil || src.Kind != "tokenizer.json" {
		t.Fatalf("kind %q, %v", src.Kind, err)
	}
	if err := os.Remove(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "merges.txt")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FromDir(dir); err == nil || !strings.Contains(err.Error(), "merges.txt") {
		t.Fatalf("vocab.json alone: %v", err)
	}
}
