package torchinit

import (
	"testing"
	"time"
)

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

// BenchmarkLevels streams a 50257 x 256 embedding table (both math paths)
// and a uniform one with the kernel set of every level.
func BenchmarkLevels(b *testing.B) {
	for _, l := range supportedLevels() {
		for _, c := range []struct {
			name string
			init Init
			path MathPath
		}{
			{"embedding-avx2", Embedding(), MathAVX2},
			{"embedding-default", Embedding(), MathDefault},
			{"uniform-avx2", Uniform(-0.1, 0.1), MathAVX2},
		} {
			b.Run("level="+l.String()+"/"+c.name, func(b *testing.B) {
				defer useKernels(l)()
				benchmarkTable(b, 50257, 256, c.init, c.path)
			})
		}
	}
}

// BenchmarkKernels times each kernel of every level on its own, per value.
func BenchmarkKernels(b *testing.B) {
	src := make([]uint32, 624*16)
	for i := range src {
		src[i] = uint32(i) * 2654435761
	}
	dst := make([]float32, len(src))
	for _, l := range supportedLevels() {
		k := kernelsFor(l)
		b.Run("level="+l.String()+"/mt", func(b *testing.B) {
			var m mt19937
			m.seed(5)
			for b.Loop() {
				k.mtBlock(&m.state, &m.out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*mtN), "ns/value")
		})
		for name, f := range map[string]func([]float32, []uint32, float32, float32){
			"normal-avx2": k.normalAVX2, "normal-default": k.normalDefault, "uniform-fused": k.uniformFused,
		} {
			b.Run("level="+l.String()+"/"+name, func(b *testing.B) {
				for b.Loop() {
					f(dst, src, 0, 1)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
			})
		}
	}
}

// BenchmarkKernelsSideBySide runs the kernels of every level in turn in
// each iteration and reports each one's time per value, so that their
// ratios hold on a noisy machine.
func BenchmarkKernelsSideBySide(b *testing.B) {
	src := make([]uint32, 624*16)
	for i := range src {
		src[i] = uint32(i) * 2654435761
	}
	dst := make([]float32, len(src))
	type entry struct {
		name string
		run  func()
		n    int
	}
	var entries []entry
	for _, l := range supportedLevels() {
		k := kernelsFor(l)
		var m mt19937
		m.seed(5)
		entries = append(entries,
			entry{l.String() + "-mt", func() {
				for range 16 {
					k.mtBlock(&m.state, &m.out)
				}
			}, 16 * mtN},
			entry{l.String() + "-normal-avx2", func() { k.normalAVX2(dst, src, 0, 1) }, len(src)},
			entry{l.String() + "-normal-default", func() { k.normalDefault(dst, src, 0, 1) }, len(src)},
			entry{l.String() + "-uniform", func() { k.uniformFused(dst, src, 0, 1) }, len(src)})
	}
	total := make([]time.Duration, len(entries))
	for b.Loop() {
		for i, e := range entries {
			t0 := time.Now()
			e.run()
			total[i] += time.Since(t0)
		}
	}
	for i, e := range entries {
		b.ReportMetric(float64(total[i].Nanoseconds())/float64(b.N*e.n), e.name+"-ns/value")
	}
}
