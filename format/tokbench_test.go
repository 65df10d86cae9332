package format

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkTokenizerSection measures compressing (as a writer does),
// decompressing (as a table's first Tokenizer call does) and decompressing
// and checking the JSON (as verification does) real tokenizers of 1 to 9 MB.
func BenchmarkTokenizerSection(b *testing.B) {
	for _, name := range []string{"gpt2", "llama3", "qwen3"} {
		raw, err := os.ReadFile(filepath.Join(repoTestdata, "tokenizers", name, "tokenizer.json.zst"))
		if err != nil {
			b.Fatal(err)
		}
		d, _ := zstd.NewReader(nil)
		doc, err := d.DecodeAll(raw, nil)
		d.Close()
		if err != nil {
			b.Fatal(err)
		}
		sec, err := EncodeTokenizerSection(doc)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if sec, err = EncodeTokenizerSection(doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(sec))/float64(len(doc)), "ratio")
		})
		b.Run(name+"/decompress", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := DecompressTokenizerSection(sec, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parse", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := ParseTokenizerSection(sec, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
