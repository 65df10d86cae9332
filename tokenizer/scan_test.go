package tokenizer

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestScannersMatchRegexOracle compares the hand-written scanners with a
// backtracking regex engine running the same patterns (JavaScript's, see
// oracles/split_patterns.mjs) on the corpus and on 300 random strings of
// characters at the patterns' class boundaries.
func TestScannersMatchRegexOracle(t *testing.T) {
	var ref struct {
		Extra    []string              `json:"extra"`
		Patterns map[string][][]string `json:"patterns"`
	}
	if err := json.Unmarshal(readRef(t, "split_patterns.json"), &ref); err != nil {
		t.Fatal(err)
	}
	texts := append(readCorpus(t), ref.Extra...)
	for name, text := range map[string]string{"gpt2": patGPT2, "cl100k": patCL100K, "qwen2": patQwen2, "o200k": patO200K} {
		pat := knownPattern(text)
		if pat == nil {
			t.Fatalf("%s: pattern not recognised", name)
		}
		want := ref.Patterns[name]
		if len(want) != len(texts) {
			t.Fatalf("%s: %d results for %d texts", name, len(want), len(texts))
		}
		bad := 0
		for i, s := range texts {
			var got []string
			for _, sp := range pat.spans(s, nil) {
				got = append(got, s[sp.start:sp.end])
			}
			if !slices.Equal(got, want[i]) && !(len(got) == 0 && len(want[i]) == 0) {
				if bad++; bad <= 5 {
					t.Errorf("%s text %d %q:\n got  %q\n want %q", name, i, s, got, want[i])
				}
			}
		}
	}
}
