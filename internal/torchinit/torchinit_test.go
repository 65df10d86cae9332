package torchinit

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"
)

// TestMT19937 checks the engine against the value the C++ standard
// specifies for std::mt19937: the 10000th output from the default seed
// 5489 is 4123659995.
func TestMT19937(t *testing.T) {
	var m mt19937
	m.seed(5489)
	var v uint32
	for range 10000 {
		v = m.uint32()
	}
	if v != 4123659995 {
		t.Errorf("10000th output %d, want 4123659995", v)
	}
}

// TestAVX2Constants checks that the bit patterns of the AVX2 kernel's
// constants are avx_mathfun.h's decimal literals as the C compiler turns
// them into float: the double literal rounded to float.
func TestAVX2Constants(t *testing.T) {
	for _, c := range []struct {
		lit string
		got float32
	}{
		{"0.707106781186547524", cSqrtHF},
		{"7.0376836292E-2", cLogP0}, {"-1.1514610310E-1", cLogP1}, {"1.1676998740E-1", cLogP2},
		{"-1.2420140846E-1", cLogP3}, {"1.4249322787E-1", cLogP4}, {"-1.6668057665E-1", cLogP5},
		{"2.0000714765E-1", cLogP6}, {"-2.4999993993E-1", cLogP7}, {"3.3333331174E-1", cLogP8},
		{"-2.12194440e-4", cLogQ1}, {"0.693359375", cLogQ2},
		{"-0.78515625", cMinusDP1}, {"-2.4187564849853515625e-4", cMinusDP2},
		{"-3.77489497744594108e-8", cMinusDP3},
		{"-1.9515295891E-4", cSinP0}, {"8.3321608736E-3", cSinP1}, {"-1.6666654611E-1", cSinP2},
		{"2.443315711809948E-005", cCosP0}, {"-1.388731625493765E-003", cCosP1},
		{"4.166664568298827E-002", cCosP2}, {"1.27323954473516", cFOPI},
	} {
		d, err := strconv.ParseFloat(c.lit, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := float32(d); math.Float32bits(want) != math.Float32bits(c.got) {
			t.Errorf("%s: %#08x, want %#08x", c.lit, math.Float32bits(c.got), math.Float32bits(want))
		}
	}
	if want := float32(2 * math.Pi); cTwoPi32 != want {
		t.Errorf("2*pi: %v, want %v", cTwoPi32, want)
	}
}

// naiveNormalFill is normal_fill as ATen writes it, on a whole slice: fill
// with uniforms, transform blocks, recompute the last 16 from fresh uniforms.
func naiveNormalFill(g *Generator, d []float32, mean, std float32, path MathPath) {
	transform := normal16AVX2
	if path == MathDefault {
		transform = normal16Default
	}
	for i := range d {
		d[i] = g.uniformFloat()
	}
	for i := 0; i+16 <= len(d); i += 16 {
		transform((*[16]float32)(d[i:]), mean, std)
	}
	if len(d)%16 != 0 {
		tail := d[len(d)-16:]
		for i := range tail {
			tail[i] = g.uniformFloat()
		}
		transform((*[16]float32)(tail), mean, std)
	}
}

// TestStreamingMatchesWholeTable checks the streamed block path against a
// whole-table implementation of normal_fill for many sizes, chunk sizes and
// both paths, including the generator state afterwards.
func TestStreamingMatchesWholeTable(t *testing.T) {
	for _, path := range paths {
		for _, n := range []int{16, 17, 31, 32, 33, 47, 48, 100, 255, 256, 257, 1000, 4099} {
			want := make([]float32, n)
			naiveNormalFill(NewGenerator(9), want, 0.25, 2, path)
			for _, chunk := range []int{1, 2, 5, 15, 16, 17, 64, n} {
				g := NewGenerator(9)
				ten, err := g.NewTensor(int64(n), Normal(0.25, 2), path)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]float32, 0, n)
				buf := make([]float32, chunk)
				for {
					k := ten.Fill(buf)
					if k == 0 {
						break
					}
					got = append(got, buf[:k]...)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%v n=%d chunk=%d: streamed values differ from the whole-table fill", path, n, chunk)
				}
				ref := NewGenerator(9)
				naiveNormalFill(ref, make([]float32, n), 0.25, 2, path)
				if a, b := g.random(), ref.random(); a != b {
					t.Fatalf("%v n=%d chunk=%d: generator state differs afterwards", path, n, chunk)
				}
			}
		}
	}
}

func TestGeneratorBusy(t *testing.T) {
	g := NewGenerator(1)
	a, err := g.NewTensor(40, Embedding(), MathAVX2)
	if err != nil {
		t.Fatal(err)
	}
	a.Fill(make([]float32, 39))
	if _, err := g.NewTensor(4, Embedding(), MathAVX2); !errors.Is(err, ErrGeneratorBusy) {
		t.Fatalf("second tensor while the first has 1 value left: err %v, want ErrGeneratorBusy", err)
	}
	if n := a.Fill(make([]float32, 10)); n != 1 {
		t.Fatalf("last Fill returned %d, want 1", n)
	}
	if n := a.Fill(make([]float32, 10)); n != 0 {
		t.Fatalf("Fill on a drained tensor returned %d, want 0", n)
	}
	if _, err := g.NewTensor(4, Embedding(), MathAVX2); err != nil {
		t.Fatalf("second tensor after the first is drained: %v", err)
	}
}

func TestValidate(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, c := range []struct {
		in Init
		ok bool
	}{
		{Embedding(), true},
		{Normal(3, 0), true},
		{Normal(0, -1), false},
		{Normal(0, nan), false},
		{Uniform(-1, 1), true},
		{Uniform(2, 2), true},
		{Uniform(1, -1), false},
		{Uniform(nan, 1), false},
		{Uniform(0, inf), false},
		{Uniform(-1e39, 0), false},
		{Uniform(-3e38, 3e38), false}, // range exceeds the float32 maximum
		{Init{Kind: Kind(7)}, false},
	} {
		err := c.in.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%v: Validate() = %v, want ok=%v", c.in, err, c.ok)
		}
		if _, nerr := NewGenerator(0).NewTensor(4, c.in, MathAVX2); (nerr == nil) != c.ok {
			t.Errorf("%v: NewTensor error %v, want ok=%v", c.in, nerr, c.ok)
		}
	}
	if _, err := NewGenerator(0).NewTensor(-1, Embedding(), MathAVX2); err == nil {
		t.Error("negative size accepted")
	}
	if _, err := NewGenerator(0).NewTensor(1, Embedding(), MathPath(5)); err == nil {
		t.Error("unknown math path accepted")
	}
}

func TestMathPathNames(t *testing.T) {
	for _, p := range paths {
		q, err := ParseMathPath(p.String())
		if err != nil || q != p {
			t.Errorf("ParseMathPath(%q) = %v, %v", p.String(), q, err)
		}
	}
	if _, err := ParseMathPath("avx512"); err == nil {
		t.Error("ParseMathPath accepted avx512")
	}
	if s := Embedding().String(); s != "normal(0, 1)" {
		t.Errorf("Embedding().String() = %q", s)
	}
}
