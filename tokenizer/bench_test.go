package tokenizer

import (
	"strings"
	"testing"
)

// The two workloads of the reference timing: one_string is the corpus texts
// joined with "\n", that string repeated 20 times joined with "\n", encoded
// in one call; per_text is every corpus text encoded by its own call, the
// whole corpus 20 times over. MB/s counts bytes of UTF-8 input.
func benchInputs(b *testing.B) (string, []string) {
	texts := readCorpus(b)
	joined := strings.Join(texts, "\n")
	rep := make([]string, 20)
	for i := range rep {
		rep[i] = joined
	}
	return strings.Join(rep, "\n"), texts
}

func BenchmarkEncode(b *testing.B) {
	one, texts := benchInputs(b)
	perBytes := 0
	for _, s := range texts {
		perBytes += len(s)
	}
	for _, name := range refNames {
		tk := refTokenizer(b, name)
		b.Run(name+"/one_string", func(b *testing.B) {
			b.SetBytes(int64(len(one)))
			b.ReportAllocs()
			var ids []int64
			for b.Loop() {
				ids = tk.Encode(ids[:0], one, false)
			}
		})
		b.Run(name+"/per_text", func(b *testing.B) {
			b.SetBytes(int64(20 * perBytes))
			b.ReportAllocs()
			var ids []int64
			for b.Loop() {
				for range 20 {
					for _, s := range texts {
						ids = tk.Encode(ids[:0], s, false)
					}
				}
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, name := range refNames {
		data := readRef(b, name+"/tokenizer.json")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Load(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
