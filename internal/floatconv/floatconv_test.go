package floatconv

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/x448/float16"
)

var exhaustive = flag.Bool("exhaustive", false, "check narrowing on all 2^32 float32 patterns and compare with PyTorch's digests of them (about 10 minutes on 2 cores)")

// ldexp32 returns m * 2^e as a float32; the tests use it only where the
// result is exactly representable.
func ldexp32(m int, e int) float32 { return float32(math.Ldexp(float64(m), e)) }

// refWidenIEEE decodes an IEEE-style binary format with the given exponent
// and mantissa widths straight from its definition.
func refWidenIEEE(v uint32, expBits, mantBits uint) (f float32, nan bool) {
	sign := v >> (expBits + mantBits) & 1
	exp := int(v>>mantBits) & (1<<expBits - 1)
	mant := int(v) & (1<<mantBits - 1)
	bias := 1<<(expBits-1) - 1
	switch {
	case exp == 1<<expBits-1 && mant != 0:
		return float32(math.NaN()), true
	case exp == 1<<expBits-1:
		f = float32(math.Inf(1))
	case exp == 0:
		f = ldexp32(mant, 1-bias-int(mantBits))
	default:
		f = ldexp32(mant|1<<mantBits, exp-bias-int(mantBits))
	}
	if sign == 1 {
		f = -f
	}
	return f, false
}

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

func TestF16ToF32AllPatterns(t *testing.T) {
	src := make([]byte, 2<<16)
	for h := range 1 << 16 {
		binary.LittleEndian.PutUint16(src[2*h:], uint16(h))
	}
	dst := make([]float32, 1<<16)
	if n := F16ToF32(dst, src); n != 1<<16 {
		t.Fatalf("F16ToF32 converted %d elements; want %d", n, 1<<16)
	}
	for h := range 1 << 16 {
		got := F16BitsToF32(uint16(h))
		if !sameBits(got, dst[h]) {
			t.Fatalf("F16ToF32 slice gives %#08x for %#04x; scalar gives %#08x", math.Float32bits(dst[h]), h, math.Float32bits(got))
		}
		want, nan := refWidenIEEE(uint32(h), 5, 10)
		if nan {
			// Quiet NaN, same sign, payload moved to the top.
			wantBits := uint32(h&0x8000)<<16 | 0x7fc00000 | uint32(h&0x3ff)<<13
			if math.Float32bits(got) != wantBits {
				t.Errorf("F16BitsToF32(%#04x) = %#08x; want quiet NaN %#08x", h, math.Float32bits(got), wantBits)
			}
			continue
		}
		if !sameBits(got, want) {
			t.Errorf("F16BitsToF32(%#04x) = %v (%#08x); want %v", h, got, math.Float32bits(got), want)
		}
		if x := float16.Frombits(uint16(h)).Float32(); !sameBits(got, x) {
			t.Errorf("F16BitsToF32(%#04x) = %v; x448/float16 gives %v", h, got, x)
		}
		// Narrowing an exactly representable value gives it back.
		if back := F32ToF16Bits(got); back != uint16(h) {
			t.Errorf("F32ToF16Bits(F16BitsToF32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestBF16ToF32AllPatterns(t *testing.T) {
	src := make([]byte, 2<<16)
	for b := range 1 << 16 {
		binary.LittleEndian.PutUint16(src[2*b:], uint16(b))
	}
	dst := make([]float32, 1<<16)
	if n := BF16ToF32(dst, src); n != 1<<16 {
		t.Fatalf("BF16ToF32 converted %d elements; want %d", n, 1<<16)
	}
	for b := range 1 << 16 {
		got := BF16BitsToF32(uint16(b))
		if math.Float32bits(got) != uint32(b)<<16 || math.Float32bits(dst[b]) != uint32(b)<<16 {
			t.Fatalf("BF16BitsToF32(%#04x) = %#08x, slice %#08x; want %#08x", b, math.Float32bits(got), math.Float32bits(dst[b]), uint32(b)<<16)
		}
		want, nan := refWidenIEEE(uint32(b), 8, 7)
		if !nan && !sameBits(got, want) {
			t.Errorf("BF16BitsToF32(%#04x) = %v; want %v", b, got, want)
		}
		back := F32ToBF16Bits(got)
		switch {
		case nan && back != 0x7fc0:
			t.Errorf("F32ToBF16Bits(NaN %#08x) = %#04x; want 0x7fc0", math.Float32bits(got), back)
		case !nan && back != uint16(b):
			t.Errorf("F32ToBF16Bits(BF16BitsToF32(%#04x)) = %#04x", b, back)
		}
	}
}

// refNarrow rounds f to the nearest value of a binary format with p
// significant bits (implicit bit included), minimum normal exponent emin and
// largest finite value maxFinite, ties to even, using float64 arithmetic
// only. Values that round beyond maxFinite give +-Inf, as IEEE 754 says; the
// caller handles NaN.
func refNarrow(f float32, p, emin int, maxFinite float64) float64 {
	x := float64(f)
	if x == 0 || math.IsInf(x, 0) {
		return x
	}
	a := math.Abs(x)
	_, e := math.Frexp(a) // a = frac * 2^e, frac in [0.5, 1)
	q := max(e-1, emin) - (p - 1)
	r := math.RoundToEven(math.Ldexp(a, -q))
	v := math.Ldexp(r, q)
	if v > maxFinite {
		v = math.Inf(1)
	}
	return math.Copysign(v, x)
}

// checkNarrowF16 compares F32ToF16Bits with refNarrow for one input.
func checkNarrowF16(x uint32) (ok bool, got uint16, want float64) {
	f := math.Float32frombits(x)
	got = F32ToF16Bits(f)
	if math.IsNaN(float64(f)) {
		return got == uint16(x>>16)&0x8000|0x7e00, got, math.NaN()
	}
	want = refNarrow(f, 11, -14, 65504)
	g := float64(F16BitsToF32(got))
	return g == want && math.Signbit(g) == math.Signbit(want), got, want
}

// checkNarrowBF16 compares F32ToBF16Bits with refNarrow for one input.
func checkNarrowBF16(x uint32) (ok bool, got uint16, want float64) {
	f := math.Float32frombits(x)
	got = F32ToBF16Bits(f)
	if math.IsNaN(float64(f)) {
		return got == 0x7fc0, got, math.NaN()
	}
	want = refNarrow(f, 8, -126, math.Ldexp(255, 120))
	g := float64(BF16BitsToF32(got))
	return g == want && math.Signbit(g) == math.Signbit(want), got, want
}

// boundaryInputs calls fn on every input of the boundary set described in
// testdata/gen_torch_golden.py, in the same order.
func boundaryInputs(fn func(x uint32)) {
	for p := range uint32(1 << 16) {
		for k := range uint32(16) {
			for _, d := range []uint32{0xffff, 0, 1} {
				fn(p<<16 | (k*0x1000+d)&0xffff)
			}
		}
	}
}

// splitmix64 is a small deterministic generator for sampled inputs.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func TestNarrowF16BF16Boundaries(t *testing.T) {
	fails := 0
	check := func(x uint32) {
		if fails > 20 {
			return
		}
		if ok, got, want := checkNarrowF16(x); !ok {
			fails++
			t.Errorf("F32ToF16Bits(%#08x = %v) = %#04x (%v); want %v", x, math.Float32frombits(x), got, F16BitsToF32(got), want)
		}
		if ok, got, want := checkNarrowBF16(x); !ok {
			fails++
			t.Errorf("F32ToBF16Bits(%#08x = %v) = %#04x (%v); want %v", x, math.Float32frombits(x), got, BF16BitsToF32(got), want)
		}
	}
	boundaryInputs(check)
	// Every f32 pattern one side or the other of each binary16 value and of
	// each midpoint between neighbours, computed from the values (this also
	// covers the binary16 subnormals and the overflow threshold 65520).
	for h := range uint16(0x7c00) {
		v := F16BitsToF32(h)
		w := float32(65536)
		if h < 0x7bff {
			w = F16BitsToF32(h + 1)
		}
		mid := float32((float64(v) + float64(w)) / 2)
		for _, f := range []float32{v, math.Nextafter32(v, 1e9), mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9)} {
			check(math.Float32bits(f))
			check(math.Float32bits(-f))
		}
	}
	rng := splitmix64(1)
	for range 1 << 22 {
		check(uint32(rng.next()))
	}
	for _, x := range []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7f800001, 0xffc00000, 0x7fffffff, 0xffffffff,
		0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff} {
		check(x)
	}
}

// TestNarrowAll compares narrowing with the reference on all 2^32 inputs
// when run with -exhaustive, and on every 251st input otherwise.
func TestNarrowAll(t *testing.T) {
	step := uint64(251)
	if *exhaustive {
		step = 1
	}
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var fails []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(w) * step; i < 1<<32; i += uint64(workers) * step {
				x := uint32(i)
				ok1, _, _ := checkNarrowF16(x)
				ok2, _, _ := checkNarrowBF16(x)
				ok3 := checkNarrowF8E4M3(x)
				ok4 := checkNarrowF8E5M2(x)
				if !ok1 || !ok2 || !ok3 || !ok4 {
					mu.Lock()
					if len(fails) < 20 {
						fails = append(fails, hex.EncodeToString(binary.BigEndian.AppendUint32(nil, x)))
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(fails) > 0 {
		t.Errorf("narrowing disagrees with the reference for float32 bits %v", fails)
	}
}

// torchGolden mirrors testdata/torch_golden.json.
type torchGolden struct {
	TorchVersion string `json:"torch_version"`
	WidenF16     struct {
		Count  int    `json:"count"`
		SHA256 string `json:"sha256_f32le"`
	} `json:"widen_f16_all"`
	WidenBF16 struct {
		Count  int    `json:"count"`
		SHA256 string `json:"sha256_f32le"`
	} `json:"widen_bf16_all"`
	NarrowBoundary narrowDigest  `json:"narrow_boundary"`
	NarrowAll      *narrowDigest `json:"narrow_all"`
}

type narrowDigest struct {
	Count      int64  `json:"count"`
	SHA256F16  string `json:"sha256_f16le"`
	SHA256BF16 string `json:"sha256_bf16le"`
}

func loadGolden(t *testing.T) torchGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g torchGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMatchesTorch recomputes the digests that PyTorch produced for the same
// inputs (see testdata/gen_torch_golden.py).
func TestMatchesTorch(t *testing.T) {
	g := loadGolden(t)
	hw16, hwb16 := sha256.New(), sha256.New()
	var buf [4]byte
	for h := range 1 << 16 {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(F16BitsToF32(uint16(h))))
		hw16.Write(buf[:])
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(BF16BitsToF32(uint16(h))))
		hwb16.Write(buf[:])
	}
	if got := hex.EncodeToString(hw16.Sum(nil)); got != g.WidenF16.SHA256 {
		t.Errorf("binary16 widening of all patterns: digest %s; PyTorch %s gives %s", got, g.TorchVersion, g.WidenF16.SHA256)
	}
	if got := hex.EncodeToString(hwb16.Sum(nil)); got != g.WidenBF16.SHA256 {
		t.Errorf("bfloat16 widening of all patterns: digest %s; PyTorch %s gives %s", got, g.TorchVersion, g.WidenBF16.SHA256)
	}

	var n int64
	h16, hb16 := newNarrowHasher(), newNarrowHasher()
	boundaryInputs(func(x uint32) {
		n++
		f := math.Float32frombits(x)
		h16.add(F32ToF16Bits(f))
		hb16.add(F32ToBF16Bits(f))
	})
	checkDigest(t, "boundary set", n, h16, hb16, g.NarrowBoundary, g.TorchVersion)

	if *exhaustive {
		if g.NarrowAll == nil {
			t.Fatal("testdata/torch_golden.json has no narrow_all digest; regenerate it with --exhaustive")
		}
		h16, hb16 := newNarrowHasher(), newNarrowHasher()
		for i := range uint64(1 << 32) {
			f := math.Float32frombits(uint32(i))
			h16.add(F32ToF16Bits(f))
			hb16.add(F32ToBF16Bits(f))
		}
		checkDigest(t, "all float32 patterns", 1<<32, h16, hb16, *g.NarrowAll, g.TorchVersion)
	}
}

func checkDigest(t *testing.T, what string, n int64, h16, hb16 *narrowHasher, want narrowDigest, version string) {
	t.Helper()
	if n != want.Count {
		t.Fatalf("%s: %d inputs; golden file has %d", what, n, want.Count)
	}
	if got := h16.sum(); got != want.SHA256F16 {
		t.Errorf("%s: binary16 narrowing digest %s; PyTorch %s gives %s", what, got, version, want.SHA256F16)
	}
	if got := hb16.sum(); got != want.SHA256BF16 {
		t.Errorf("%s: bfloat16 narrowing digest %s; PyTorch %s gives %s", what, got, version, want.SHA256BF16)
	}
}

// narrowHasher hashes uint16 outputs in little-endian order, buffering them.
type narrowHasher struct {
	h   interface{ Write([]byte) (int, error) }
	sh  func() []byte
	buf []byte
}

func newNarrowHasher() *narrowHasher {
	h := sha256.New()
	return &narrowHasher{h: h, sh: func() []byte { return h.Sum(nil) }, buf: make([]byte, 0, 1<<16)}
}

func (n *narrowHasher) add(v uint16) {
	n.buf = binary.LittleEndian.AppendUint16(n.buf, v)
	if len(n.buf) == cap(n.buf) {
		n.h.Write(n.buf)
		n.buf = n.buf[:0]
	}
}

func (n *narrowHasher) sum() string {
	n.h.Write(n.buf)
	n.buf = n.buf[:0]
	return hex.EncodeToString(n.sh())
}
