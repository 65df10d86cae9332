package floatconv

import "testing"

const benchN = 1 << 16

// benchWiden converts embedding-like data: values of magnitude about 0.02,
// as in trained embedding tables, narrowed with the matching function.
func benchWiden(b *testing.B, size int, fn func([]float32, []byte) int, narrow func([]byte, []float32) int) {
	src := make([]byte, benchN*size)
	narrow(src, benchValues())
	dst := make([]float32, benchN)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		fn(dst, src)
	}
}

func benchNarrow(b *testing.B, size int, fn func([]byte, []float32) int) {
	src := benchValues()
	dst := make([]byte, benchN*size)
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		fn(dst, src)
	}
}

func benchValues() []float32 {
	v := make([]float32, benchN)
	rng := splitmix64(3)
	for i := range v {
		// A sum of uniforms: roughly normal, standard deviation 0.02.
		var s float32
		for range 4 {
			s += float32(rng.next()>>40)/(1<<24) - 0.5
		}
		v[i] = s * 0.035
	}
	return v
}

func f64Narrow(dst []byte, src []float32) int {
	for i, f := range src {
		putF64(dst[8*i:], float64(f))
	}
	return len(src)
}

func BenchmarkF32LEToF32(b *testing.B)  { benchWiden(b, 4, F32LEToF32, F32ToF32LE) }
func BenchmarkF16ToF32(b *testing.B)    { benchWiden(b, 2, F16ToF32, F32ToF16) }
func BenchmarkBF16ToF32(b *testing.B)   { benchWiden(b, 2, BF16ToF32, F32ToBF16) }
func BenchmarkF8E4M3ToF32(b *testing.B) { benchWiden(b, 1, F8E4M3ToF32, F32ToF8E4M3) }
func BenchmarkF8E5M2ToF32(b *testing.B) { benchWiden(b, 1, F8E5M2ToF32, F32ToF8E5M2) }
func BenchmarkF64ToF32(b *testing.B)    { benchWiden(b, 8, F64ToF32, f64Narrow) }
func BenchmarkF32ToF16(b *testing.B)    { benchNarrow(b, 2, F32ToF16) }
func BenchmarkF32ToBF16(b *testing.B)   { benchNarrow(b, 2, F32ToBF16) }
func BenchmarkF32ToF8E4M3(b *testing.B) { benchNarrow(b, 1, F32ToF8E4M3) }
