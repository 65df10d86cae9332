package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
)

// jsonFloat32 appends v as encoding/json writes a float32 (its
// floatEncoder, through strconv): the oracle appendFloat32 must equal.
// TestAppendFloat32 checks that it is what json.Marshal writes.
func jsonFloat32(b []byte, v float32) []byte {
	abs := float32(math.Abs(float64(v)))
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, float64(v), fmt, -1, 32)
	if fmt == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// checkFloat32 compares appendFloat32 with the oracle for the float32 with
// bits u (finite), and checks that the text reads back as u. It returns a
// description of the difference, or "".
func checkFloat32(u uint32) string {
	v := math.Float32frombits(u)
	got := appendFloat32(nil, v)
	want := jsonFloat32(nil, v)
	if !bytes.Equal(got, want) {
		return fmt.Sprintf("bits %08x: %s, encoding/json %s", u, got, want)
	}
	back, err := strconv.ParseFloat(string(got), 32)
	if err != nil || math.Float32bits(float32(back)) != u {
		return fmt.Sprintf("bits %08x: %s does not read back", u, got)
	}
	return ""
}

// sampleFloat32 returns the float32 bits TestAppendFloat32 checks: for
// every exponent the smallest and largest 300 significands (powers of two
// among them), a million random bit patterns, and the values on either
// side of the layout's thresholds and of every power of ten.
func sampleFloat32() []uint32 {
	var us []uint32
	for exp := uint32(0); exp < 255; exp++ {
		for m := uint32(0); m < 300; m++ {
			us = append(us, exp<<23|m, exp<<23|(1<<23-1-m))
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 1 << 20 {
		us = append(us, r.Uint32()&^(1<<31))
	}
	for p := -45; p <= 38; p++ {
		u := math.Float32bits(float32(math.Pow(10, float64(p))))
		for d := uint32(0); d < 4; d++ {
			us = append(us, u+d, u-d)
		}
	}
	for _, v := range []float32{1, 0.1, 0.3, 1e-6, 1e-7, 9.999999e-7, 1e21, 1e20, 123456789, 16777216,
		3.4028235e38, 1e-45, 1.17549435e-38, 1.0 / 4096} {
		us = append(us, math.Float32bits(v))
	}
	out := us[:0]
	for _, u := range us {
		if u&0x7f800000 != 0x7f800000 { // finite
			out = append(out, u)
		}
	}
	return out
}

func TestAppendFloat32(t *testing.T) {
	fails := 0
	for i, u := range sampleFloat32() {
		for _, s := range []uint32{0, 1 << 31} {
			if msg := checkFloat32(u | s); msg != "" {
				t.Error(msg)
				if fails++; fails > 10 {
					t.FailNow()
				}
			}
		}
		// The oracle is encoding/json (on a part of the sample: through
		// reflection it is slow).
		if i%16 == 0 {
			v := math.Float32frombits(u | 1<<31)
			want, err := json.Marshal(v)
			if err != nil || string(jsonFloat32(nil, v)) != string(want) {
				t.Fatalf("bits %08x: the oracle writes %s, json.Marshal %s", u, jsonFloat32(nil, v), want)
			}
		}
		// The formatter before this one found the same digits (its
		// layout differs below 1e-6, and at 2^-12 it rounds a tie to
		// even).
		if i%4 == 0 && u != 0x39800000 {
			v := math.Float32frombits(u)
			old, _ := strconv.ParseFloat(string(schubfachAppendFloat32(nil, v)), 64)
			now, _ := strconv.ParseFloat(string(appendFloat32(nil, v)), 64)
			if old != now {
				t.Fatalf("bits %08x: %s, before %s", u, appendFloat32(nil, v), schubfachAppendFloat32(nil, v))
			}
		}
	}
	for v, want := range map[float32]string{0: "0", 1: "1", -2.5: "-2.5", 0.1: "0.1", 100: "100",
		1e20: "100000000000000000000", -1e20: "-100000000000000000000", 1e21: "1e+21", 1e-6: "0.000001",
		9.999999e-7: "9.999999e-7", 1e-7: "1e-7", 1.5e-10: "1.5e-10", 3.4028235e38: "3.4028235e+38",
		1e-45: "1e-45", -1.17549435e-38: "-1.1754944e-38", 123.456: "123.456", 0.001: "0.001",
		-0.0123456789: "-0.012345679", 1.0 / 4096: "0.00024414063", 16777216: "16777216", 1.5e9: "1500000000"} {
		if got := string(appendFloat32(nil, v)); got != want {
			t.Errorf("%v: %s, want %s", v, got, want)
		}
	}
	if got := string(appendFloat32([]byte("x"), float32(math.Copysign(0, -1)))); got != "x-0" {
		t.Errorf("-0: %s", got)
	}
}

func TestAppendFloatRow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 2, 255, 256, 1000} {
		row := make([]float32, n)
		for i := range row {
			row[i] = math.Float32frombits(r.Uint32() &^ (0xff << 23)) // finite
			if i%2 == 0 {
				row[i] = float32(r.NormFloat64())
			}
		}
		got, ok := appendFloatRow([]byte("prefix"), row)
		want, _ := json.Marshal(row)
		if !ok || string(got) != "prefix"+string(want) {
			t.Fatalf("%d values: %s, want %s", n, got, want)
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if _, ok := appendFloatRow(nil, []float32{1, bad}); ok {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestPow10Table recomputes pow10Hi exactly.
func TestPow10Table(t *testing.T) {
	for i, got := range pow10Hi {
		k := pow10Min + i
		num, den := big.NewInt(1), big.NewInt(1)
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(k, -k))), nil)
		if k >= 0 {
			num = p
		} else {
			den = p
		}
		// e = floor(log2 10^k): 2^e <= num/den < 2^(e+1).
		e := num.BitLen() - den.BitLen()
		if new(big.Int).Lsh(den, uint(max(e, 0))).Cmp(new(big.Int).Lsh(num, uint(max(-e, 0)))) > 0 {
			e--
		}
		if e != floorLog2Pow10(k) {
			t.Errorf("floorLog2Pow10(%d) = %d, want %d", k, floorLog2Pow10(k), e)
		}
		// ceil(num/den * 2^(63-e))
		if sh := 63 - e; sh >= 0 {
			num = new(big.Int).Lsh(num, uint(sh))
		} else {
			den = new(big.Int).Lsh(den, uint(-sh))
		}
		q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
		if rem.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		if !q.IsUint64() || q.Uint64() != got || got < 1<<63 {
			t.Errorf("pow10Hi for 10^%d: %#x, want %#x", k, got, q)
		}
	}
}

// TestFtoaLogs checks the integer logarithms for every exponent of float32
// against exact arithmetic.
func TestFtoaLogs(t *testing.T) {
	ten, two := big.NewFloat(10).SetPrec(200), big.NewFloat(2).SetPrec(200)
	pow := func(b *big.Float, n int) *big.Float { // b^n, exactly enough
		r := new(big.Float).SetPrec(2000).SetInt64(1)
		x := new(big.Float).SetPrec(2000).Set(b)
		if n < 0 {
			x.Quo(new(big.Float).SetPrec(2000).SetInt64(1), x)
			n = -n
		}
		for range n {
			r.Mul(r, x)
		}
		return r
	}
	for e := -149; e <= 104; e++ {
		// floor(e log10 2) = the k with 10^k <= 2^e < 10^(k+1).
		k := floorLog10Pow2(e)
		if p := pow(two, e); pow(ten, k).Cmp(p) > 0 || pow(ten, k+1).Cmp(p) <= 0 {
			t.Errorf("floorLog10Pow2(%d) = %d", e, k)
		}
		// floor(e log10 2 - log10(4/3)): 10^k <= 3/4 2^e < 10^(k+1).
		k = floorLog10ThreeQuartersPow2(e)
		p := pow(two, e)
		p.Mul(p, big.NewFloat(0.75))
		if pow(ten, k).Cmp(p) > 0 || pow(ten, k+1).Cmp(p) <= 0 {
			t.Errorf("floorLog10ThreeQuartersPow2(%d) = %d", e, k)
		}
	}
}

// TestAppendFloat32Exhaustive compares appendFloat32s with encoding/json's
// layout of strconv's shortest digits, byte for byte, on every finite
// float32: each positive one and its negative, formatted as a row, a
// thousand values at a time, as the server formats them. It takes a few
// CPU-minutes: run it with EMBSTORE_EXHAUSTIVE=1. The values are split into
// 64 chunks of 2^25, subtests that run in parallel (go test -parallel,
// GOMAXPROCS by default); -run 'Exhaustive/chunk07' checks one.
func TestAppendFloat32Exhaustive(t *testing.T) {
	if os.Getenv("EMBSTORE_EXHAUSTIVE") != "1" {
		t.Skip("every float32 takes a few CPU-minutes; set EMBSTORE_EXHAUSTIVE=1")
	}
	const chunk = 1 << 25
	const end = 0x7f800000 // the positive finite values are below
	var checked atomic.Int64
	t.Cleanup(func() { t.Logf("%d finite float32 values checked", checked.Load()) })
	for c := range (end + chunk - 1) / chunk {
		t.Run(fmt.Sprintf("chunk%02d", c), func(t *testing.T) {
			t.Parallel()
			lo, hi := uint32(c*chunk), uint32(min((c+1)*chunk, end))
			var vals []float32
			var got, want []byte
			fails := 0
			for u := lo; u < hi; u += 512 {
				vals = vals[:0]
				for v := u; v < min(u+512, hi); v++ {
					vals = append(vals, math.Float32frombits(v), math.Float32frombits(v|1<<31))
				}
				got, _ = appendFloat32s(got[:0], vals)
				pos := 0
				for i, v := range vals {
					want = jsonFloat32(want[:0], v)
					end := pos + len(want)
					if end > len(got) || !bytes.Equal(got[pos:end], want) || end < len(got) && got[end] != ',' || i == len(vals)-1 && end != len(got) {
						t.Errorf("bits %08x: %s", math.Float32bits(v), checkFloat32(math.Float32bits(v)))
						if fails++; fails == 10 {
							t.FailNow()
						}
						break // the rest of this row is out of step
					}
					pos = end + 1
				}
			}
			checked.Add(2 * int64(hi-lo))
		})
	}
}

// FuzzServerFloat32 checks appendFloat32 against encoding/json on
// fuzzer-chosen float32 bits.
func FuzzServerFloat32(f *testing.F) {
	f.Add(uint64(0x3dcccccd))
	addCorpus(f, "FuzzServerFloat32")
	f.Fuzz(func(t *testing.T, u uint64) { // the low 32 bits (the corpus format has no uint32)
		if v := uint32(u); v&0x7f800000 != 0x7f800000 {
			if msg := checkFloat32(v); msg != "" {
				t.Fatal(msg)
			}
		}
	})
}

// BenchmarkFloat32 formats rows of 256 values as comma-separated JSON
// numbers, reporting ns per value, with this package's formatter
// (appendFloat32s, as the server calls it), the one before it and strconv
// (as encoding/json calls it), side by side: values drawn as torch's
// nn.Embedding init (standard normal: most in [1e-3, 10)), small uniform
// ones (|x| < 0.1, as Xavier-style inits give), and bit patterns uniform
// over every finite float32.
func BenchmarkFloat32(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	rows := map[string][]float32{"normal": row256(), "uniform0.1": make([]float32, 256), "bits": make([]float32, 256)}
	for i := range 256 {
		rows["uniform0.1"][i] = float32(r.Float64()*0.2 - 0.1)
		rows["bits"][i] = math.Float32frombits(r.Uint32()&^(0xff<<23) | uint32(r.IntN(255))<<23)
	}
	each := func(f func([]byte, float32) []byte) func([]byte, []float32) []byte {
		return func(b []byte, row []float32) []byte {
			for i, v := range row {
				if i > 0 {
					b = append(b, ',')
				}
				b = f(b, v)
			}
			return b
		}
	}
	formatters := []struct {
		name string
		f    func([]byte, []float32) []byte
	}{
		{"dragonbox", func(b []byte, row []float32) []byte { b, _ = appendFloat32s(b, row); return b }},
		{"schubfach", each(schubfachAppendFloat32)},
		{"strconv", each(jsonFloat32)},
	}
	for _, dist := range []string{"normal", "uniform0.1", "bits"} {
		for _, fm := range formatters {
			b.Run(dist+"/"+fm.name, func(b *testing.B) {
				row := rows[dist]
				buf := make([]byte, 0, 256*(float32JSONMax+1)+ftoaSpace)
				for b.Loop() {
					buf = fm.f(buf[:0], row)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(row)), "ns/value")
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}
