package torchinit

import "testing"

// benchmarkTable streams a rows x dim embedding table in 64 Ki-value chunks,
// as a file writer would.
func benchmarkTable(b *testing.B, rows, dim int64, init Init, path MathPath) {
	buf := make([]float32, 1<<16)
	b.SetBytes(rows * dim * 4)
	for b.Loop() {
		ten, err := NewGenerator(123).NewTensor(rows*dim, init, path)
		if err != nil {
			b.Fatal(err)
		}
		for ten.Fill(buf) > 0 {
		}
	}
}

func BenchmarkEmbedding50257x256AVX2(b *testing.B) {
	benchmarkTable(b, 50257, 256, Embedding(), MathAVX2)
}

func BenchmarkEmbedding50257x256Default(b *testing.B) {
	benchmarkTable(b, 50257, 256, Embedding(), MathDefault)
}

func BenchmarkUniform50257x256AVX2(b *testing.B) {
	benchmarkTable(b, 50257, 256, Uniform(-0.1, 0.1), MathAVX2)
}

func BenchmarkUniform50257x256Default(b *testing.B) {
	benchmarkTable(b, 50257, 256, Uniform(-0.1, 0.1), MathDefault)
}
