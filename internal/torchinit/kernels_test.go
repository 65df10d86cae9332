package torchinit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The tests in this file check the kernel set of every level this build
// and CPU support against the reference, and the assembly against torch.
// Where there is no assembly level the differential tests skip, saying so;
// EMBSTORE_KERNEL_LEVELS (the variable the kernel package's tests read,
// "avx2,avx512") makes levels required.

// levelsEnv names the kernel levels a test run requires, comma-separated.
// CI sets it to the levels the machine's CPU has (for the kernel package,
// whose levels need more CPU features than these), so that a level that
// goes missing fails the run instead of leaving less to compare.
const levelsEnv = "EMBSTORE_KERNEL_LEVELS"

// checkRequiredLevels fails t if a level named by EMBSTORE_KERNEL_LEVELS is
// not supported by this build on this CPU.
func checkRequiredLevels(t testing.TB) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range supportedLevels() {
		have[l.String()] = true
	}
	for _, name := range strings.Split(os.Getenv(levelsEnv), ",") {
		if name = strings.TrimSpace(name); name != "" && !have[name] {
			t.Fatalf("%s=%q requires kernel level %s; this build on this CPU has %v",
				levelsEnv, os.Getenv(levelsEnv), name, supportedLevels())
		}
	}
}

// diffLevels returns the assembly levels a differential test compares with
// the reference. With none (a -tags noasm build, another architecture, a
// CPU without AVX2 and FMA) the test is skipped, saying so, rather than
// passing without comparing anything.
func diffLevels(t testing.TB) []kernelLevel {
	t.Helper()
	checkRequiredLevels(t)
	levels := supportedLevels()[1:]
	if len(levels) == 0 {
		t.Skipf("no assembly kernel level in this build on this CPU (%s/%s, levels %v): nothing to compare with the reference",
			runtime.GOOS, runtime.GOARCH, supportedLevels())
	}
	return levels
}

// forEachLevel runs f with the kernel set of every assembly level (see
// diffLevels).
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	for _, l := range diffLevels(t) {
		t.Run(l.String(), func(t *testing.T) {
			defer useKernels(l)()
			f(t)
		})
	}
}

// TestLevels checks the level list and logs it.
func TestLevels(t *testing.T) {
	checkRequiredLevels(t)
	levels := supportedLevels()
	if levels[0] != levelRef {
		t.Fatalf("supportedLevels() = %v; the reference must come first", levels)
	}
	t.Logf("torchinit kernel levels on this machine: %v", levels)
}

// TestMTBlockMatchesReference compares every level's twist and tempering
// with the reference over many regenerations from many seeds.
func TestMTBlockMatchesReference(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		for _, seed := range []uint32{0, 1, 5489, 123, 0xffffffff, 0x9908b0df} {
			var ref, got mt19937
			ref.seed(seed)
			got.seed(seed)
			var refOut, gotOut [mtN]uint32
			for r := range 50 {
				mtBlockRef(&ref.state, &refOut)
				kern.mtBlock(&got.state, &gotOut)
				if ref.state != got.state {
					t.Fatalf("seed %d, twist %d: state differs", seed, r)
				}
				if refOut != gotOut {
					for i := range refOut {
						if refOut[i] != gotOut[i] {
							t.Fatalf("seed %d, twist %d: output %d is %#x, want %#x", seed, r, i, gotOut[i], refOut[i])
						}
					}
				}
			}
		}
	})
}

// normalParams are parameters of the normal kernels: ordinary ones, and
// ones that make infinite and NaN values.
var normalParams = []struct{ mean, std float32 }{
	{0, 1}, {0.25, 2}, {-3, 1e-3}, {1e30, 1e-30}, {0, 0}, {float32(math.Copysign(0, -1)), 1},
	{0, 3e38}, {float32(math.Inf(1)), 1}, {float32(math.NaN()), 1}, {0, float32(math.Inf(1))},
	{float32(math.NaN()), float32(math.Inf(1))},
}

// sameResult reports whether a kernel's result equals the reference's: the
// same bits, or both NaN. NaN payloads are not part of the contract: the
// reference's software float32 FMA does not propagate NaN operands the way
// the FMA instructions (and torch) do, e.g. for 0*Inf + NaN.
func sameResult(got, want float32) bool {
	return math.Float32bits(got) == math.Float32bits(want) || got != got && want != want
}

// TestNormalKernelsMatchReference compares every level's normal kernels on
// both math paths with the reference, on random raw outputs, for every
// number of blocks up to 40 and for every destination offset in a block
// (the kernels must write exactly their blocks).
func TestNormalKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]uint32, 16*40)
	forEachLevel(t, func(t *testing.T) {
		for _, path := range paths {
			for _, p := range normalParams {
				for blocks := range 41 {
					for i := range src {
						src[i] = rng.Uint32()
						if i%37 == 0 {
							src[i] &= 0xff000000 // u = 0: log(1), radius 0, theta 0
						}
					}
					n := 16 * blocks
					want := make([]float32, n+2)
					got := make([]float32, n+2)
					for i := range want {
						want[i], got[i] = -7, -7
					}
					kernelFor(refKernels, path)(want[1:n+1], src[:n], p.mean, p.std)
					kernelFor(kern, path)(got[1:n+1], src[:n], p.mean, p.std)
					for i := range want {
						if !sameResult(got[i], want[i]) {
							b := (i - 1) / 16
							t.Fatalf("%v mean %g std %g, %d blocks: value %d (block %d lane %d, raw %#x/%#x) is %v, want %v",
								path, p.mean, p.std, blocks, i-1, b, (i-1)%16, src[16*b+(i-1)%8], src[16*b+8+(i-1)%8], got[i], want[i])
						}
					}
				}
			}
		}
	})
}

func kernelFor(k kernelSet, path MathPath) func(dst []float32, src []uint32, mean, std float32) {
	if path == MathAVX2 {
		return k.normalAVX2
	}
	return k.normalDefault
}

// TestUniformKernelsMatchReference compares every level's uniform kernels
// with the reference on random raw outputs, for every length up to 70 and
// several ranges; the kernels must write exactly len(src) values.
func TestUniformKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]uint32, 70)
	forEachLevel(t, func(t *testing.T) {
		for _, r := range []struct{ lo, span float32 }{{-0.1, 0.2}, {0, 1}, {-3, 10}, {1e-20, 3e38}, {-1, 0}} {
			for fused, k := range map[bool][2]func([]float32, []uint32, float32, float32){
				true:  {refKernels.uniformFused, kern.uniformFused},
				false: {refKernels.uniformPlain, kern.uniformPlain},
			} {
				for n := range len(src) + 1 {
					for i := range src {
						src[i] = rng.Uint32()
					}
					want := make([]float32, n+2)
					got := make([]float32, n+2)
					for i := range want {
						want[i], got[i] = -7, -7
					}
					k[0](want[1:n+1], src[:n], r.lo, r.span)
					k[1](got[1:n+1], src[:n], r.lo, r.span)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("fused %v lo %g span %g, n %d: value %d is %v, want %v", fused, r.lo, r.span, n, i-1, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestKernelsEveryUniformLanes runs the normal kernels of every assembly
// level on the arrangement of TestEveryUniformLanes (each of the 2^24 float
// uniforms once in a logarithm lane and once in a sine/cosine lane), from
// raw outputs whose upper 8 bits are random, and compares the SHA-256 of
// all results with torch's: the assembly matches torch on every input it
// can receive. (TestEveryUniformLanes checks the reference the same way.)
func TestKernelsEveryUniformLanes(t *testing.T) {
	var f lanesFile
	readJSON(t, "torch-lanes.json", &f)
	if f.Pairs != 1<<24 || f.Mult%2 == 0 {
		t.Fatalf("unexpected arrangement: %+v", f)
	}
	for _, l := range diffLevels(t) {
		t.Run(l.String(), func(t *testing.T) {
			defer useKernels(l)()
			for _, path := range paths {
				ref, ok := f.Paths[path.String()]
				if !ok {
					t.Fatalf("no reference for %v", path)
				}
				rng := rand.New(rand.NewPCG(5, uint64(path)))
				const chunk = 1 << 16 // values
				src := make([]uint32, chunk)
				dst := make([]float32, chunk)
				bytes := make([]byte, 4*chunk)
				h := sha256.New()
				var head []float32
				for first := 0; first < 2*f.Pairs; first += chunk {
					for v := range chunk {
						b, j := (first+v)/16, (first+v)%16
						i := uint64(8*b + j%8)
						k := i
						if j >= 8 {
							k = (i*f.Mult + f.Offset) % (1 << 24)
						}
						src[v] = uint32(k) | rng.Uint32()&0xff000000
					}
					kernelFor(kern, path)(dst, src, 0, 1)
					for i, v := range dst {
						binary.LittleEndian.PutUint32(bytes[4*i:], math.Float32bits(v))
					}
					h.Write(bytes)
					if head == nil {
						head = append(head, dst[:32]...)
					}
				}
				compareValues(t, path.String()+" head", head, ref.Head)
				if got := hex.EncodeToString(h.Sum(nil)); got != ref.SHA {
					t.Errorf("%v: sha256 of all lanes %s, want %s", path, got, ref.SHA)
				}
			}
		})
	}
}

// TestLevelsMatchTorch runs the torch reference tests with the kernel set
// of every level, the reference included, not only the one init picks.
func TestLevelsMatchTorch(t *testing.T) {
	checkRequiredLevels(t)
	for _, l := range supportedLevels() {
		t.Run(l.String(), func(t *testing.T) {
			defer useKernels(l)()
			t.Run("shared", TestSharedReferences)
			t.Run("extra", TestExtraReferences)
			t.Run("pipeline", TestSeedDocPipeline)
		})
	}
}

// TestStreamsMatchReference compares whole streamed tensors of every level
// with the reference level's: sizes around the block size, the twist
// length and chunk edges (so the tail rule, blocks straddling the
// generator's buffer and blocks cut by chunks all occur), every init and
// both paths, after a first tensor that leaves the generator at various
// offsets; then the generator must be in the same state.
func TestStreamsMatchReference(t *testing.T) {
	levels := diffLevels(t)
	sizes := []int{1, 2, 15, 16, 17, 30, 31, 32, 33, 47, 48, 49, 100, 255, 256, 257, 623, 624, 625, 640, 1000, 1248, 4099, 10007}
	inits := []Init{Embedding(), Normal(0.25, 2), Normal(-1, 1e-3), Uniform(-0.1, 0.1), Uniform(-3, 7)}
	type key struct {
		seed, before, size, init int
		path                     MathPath
	}
	drain := func(g *Generator, n int, in Init, path MathPath, chunk int) ([]float32, []uint32) {
		ten, err := g.NewTensor(int64(n), in, path)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, 0, n)
		buf := make([]float32, chunk)
		for {
			k := ten.Fill(buf)
			if k == 0 {
				break
			}
			out = append(out, buf[:k]...)
		}
		after := make([]uint32, 8)
		for i := range after {
			after[i] = g.random()
		}
		return out, after
	}
	run := func(k key, chunk int) ([]float32, []uint32) {
		g := NewGenerator(uint64(k.seed))
		if k.before > 0 {
			drain(g, k.before, Uniform(0, 1), MathDefault, k.before)
		}
		return drain(g, sizes[k.size], inits[k.init], k.path, chunk)
	}
	want := map[key][2][]uint32{}
	var keys []key
	for _, seed := range []int{0, 123} {
		for _, before := range []int{0, 5, 16, 620} {
			for size := range sizes {
				for init := range inits {
					for _, path := range paths {
						keys = append(keys, key{seed, before, size, init, path})
					}
				}
			}
		}
	}
	func() {
		defer useKernels(levelRef)()
		for _, k := range keys {
			vals, after := run(k, sizes[k.size])
			bits := make([]uint32, len(vals))
			for i, v := range vals {
				bits[i] = math.Float32bits(v)
			}
			want[k] = [2][]uint32{bits, after}
		}
	}()
	for _, l := range levels {
		t.Run(l.String(), func(t *testing.T) {
			defer useKernels(l)()
			for i, k := range keys {
				chunk := []int{1, 7, 16, 17, 64, 1000, sizes[k.size]}[i%7]
				vals, after := run(k, chunk)
				w := want[k]
				for j, v := range vals {
					if math.Float32bits(v) != w[0][j] {
						t.Fatalf("%+v chunk %d: value %d is %v, want %v", k, chunk, j, v, math.Float32frombits(w[0][j]))
					}
				}
				if !slices.Equal(after, w[1]) {
					t.Fatalf("%+v chunk %d: generator state differs afterwards", k, chunk)
				}
			}
		})
	}
}
