package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestMergePathsAgree runs every corpus text through the BPE tokenizers with
// short words merged by the direct scan and then with every word through
// the priority queue (Hugging Face's algorithm): the ids must agree.
func TestMergePathsAgree(t *testing.T) {
	texts := readCorpus(t)
	texts = append(texts, strings.Repeat("ab", 300), strings.Repeat("aab", 99), "hellohellohello worldworld")
	for _, name := range []string{"gpt2", "llama2", "llama3", "qwen3"} {
		tk := refTokenizer(t, name)
		var want [][]int64
		for _, s := range texts {
			want = append(want, tk.Encode(nil, s, false))
		}
		func() {
			mergeSmallMax = 0
			tk.pool = sync.Pool{} // drop the word caches
			defer func() { mergeSmallMax = smallWord; tk.pool = sync.Pool{} }()
			for i, s := range texts {
				if got := tk.Encode(nil, s, false); !slices.Equal(got, want[i]) {
					t.Errorf("%s text %d: queue %v, scan %v", name, i, got, want[i])
				}
			}
		}()
	}
}

// TestLongWordIsNotQuadratic encodes runs of one letter of growing length
// (one pre-token each) and checks that the priority queue does a number of
// operations linear in the length (each costs O(log n)): no quadratic blow
// up as in naive BPE.
func TestLongWordIsNotQuadratic(t *testing.T) {
	for _, name := range []string{"gpt2", "llama2"} {
		tk := refTokenizer(t, name)
		for _, n := range []int{1000, 10000, 100000} {
			st := tk.getState()
			st.heapOps = 0
			ids := tk.encodeBody(st, strings.Repeat("x", n), nil)
			ops := st.heapOps
			tk.putState(st)
			if len(ids) == 0 || ops > 6*n {
				t.Errorf("%s: %d x: %d ids, %d queue operations (want <= %d)", name, n, len(ids), ops, 6*n)
			}
			t.Logf("%s: %d x -> %d ids, %d queue operations", name, n, len(ids), ops)
		}
	}
}

// TestEncodeAllocations checks that Encode into a buffer with room
// allocates nothing once its pooled state is warm.
func TestEncodeAllocations(t *testing.T) {
	texts := readCorpus(t)
	for _, name := range refNames {
		tk := refTokenizer(t, name)
		buf := make([]int64, 0, 1<<16)
		for _, s := range texts {
			buf = tk.Encode(buf[:0], s, true)
		}
		text := "Hello world, it's 2026: naïve café ☕ 你好"
		n := testing.AllocsPerRun(50, func() { buf = tk.Encode(buf[:0], text, true) })
		if n > 0 {
			t.Errorf("%s: %.1f allocations per Encode", name, n)
		}
	}
}

// TestConcurrentEncode encodes the corpus from several goroutines at once
// (run with -race) and compares with a sequential run.
func TestConcurrentEncode(t *testing.T) {
	texts := readCorpus(t)
	for _, name := range []string{"gpt2", "bert"} {
		tk := refTokenizer(t, name)
		want := make([][]int64, len(texts))
		for i, s := range texts {
			want[i] = tk.Encode(nil, s, true)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				var buf []int64
				for k := 0; k < 3; k++ {
					for i := range texts {
						j := (i + g*17) % len(texts)
						buf = tk.Encode(buf[:0], texts[j], true)
						if !slices.Equal(buf, want[j]) {
							errs <- fmt.Sprintf("%s goroutine %d text %d: %v, want %v", name, g, j, buf, want[j])
							return
						}
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}

// TestInvalidUTF8 checks the repair of ill-formed input: the Unicode
// standard's example of U+FFFD substitution of maximal subparts (chapter 3,
// "U+FFFD Substitution of Maximal Subparts", table 3-8), and that Encode of
// ill-formed text equals Encode of its repaired form.
func TestInvalidUTF8(t *testing.T) {
	in := "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"
	want := "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd"
	if got, _ := sanitizeUTF8(nil, in); got != want {
		t.Fatalf("repair %q = %q, want %q", in, got, want)
	}
	for _, c := range []struct{ in, want string }{
		{"\xE2\x82", "\uFFFD"}, {"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"}, {"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xC0\xAF", "\uFFFD\uFFFD"}, {"ok", "ok"}, {"\xF0\x9F\x98", "\uFFFD"},
	} {
		if got, _ := sanitizeUTF8(nil, c.in); got != c.want {
			t.Errorf("repair %q = %q, want %q", c.in, got, c.want)
		}
	}
	for _, name := range refNames {
		tk := refTokenizer(t, name)
		if a, b := tk.Encode(nil, in, true), tk.Encode(nil, want, true); !slices.Equal(a, b) {
			t.Errorf("%s: ill-formed %v, repaired %v", name, a, b)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tk := refTokenizer(t, "gpt2")
	for _, id := range []int64{-1, 50257, 1 << 40} {
		_, err := tk.Decode([]int64{15496, id}, false)
		var ie *IDError
		if !errors.As(err, &ie) || ie.ID != id {
			t.Errorf("Decode with id %d: %v", id, err)
		}
		if _, err := tk.Tokens([]int64{id}); err == nil {
			t.Errorf("Tokens(%d) accepted", id)
		}
	}
	if s, err := tk.Decode(nil, false); s != "" || err != nil {
		t.Errorf("Decode(nil) = %q, %v", s, err)
	}
	toks, err := tk.Tokens([]int64{15496, 995, 50256})
	if err != nil || !slices.Equal(toks, []string{"Hello", "Ġworld", "<|endoftext|>"}) {
		t.Errorf("Tokens = %q, %v", toks, err)
	}
	if id, ok := tk.TokenToID("Ġworld"); !ok || id != 995 {
		t.Errorf("TokenToID(Ġworld) = %d, %v", id, ok)
	}
	if s, _ := tk.Decode([]int64{15496, 50256, 995}, true); s != "Hello world" {
		t.Errorf("skip special: %q", s)
	}
}

func TestInfo(t *testing.T) {
	in := refTokenizer(t, "bert").Info()
	if in.Model != "WordPiece" || in.VocabSize != 30522 || in.PreTokenizer != "BertPreTokenizer" ||
		!slices.Equal(in.SpecialTokens, []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) ||
		in.PostProcessor != "TemplateProcessing([CLS] $A [SEP])" {
		t.Errorf("bert info %+v", in)
	}
	in = refTokenizer(t, "llama3").Info()
	if in.Model != "BPE" || in.VocabSize != 128256 || len(in.SpecialTokens) != 256 || !strings.Contains(in.ModelDetail, "ignore_merges") {
		t.Errorf("llama3 info %+v", in)
	}
}
