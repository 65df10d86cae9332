// Package torchinit reproduces, bit for bit, the float32 tables that PyTorch's
// seeded CPU initialisation produces:
//
//	torch.manual_seed(seed)
//	torch.nn.Embedding(rows, dim).weight     // normal_(0, 1)
//	torch.nn.init.normal_(w, mean, std)      // w a fresh float32 tensor
//	torch.nn.init.uniform_(w, a, b)
//
// and what later tensors drawn from the same generator get (a positional table
// created after a token table, for instance).
//
// It follows these ATen sources:
//   - core/MT19937RNGEngine.h and CPUGeneratorImpl.cpp: the Mersenne Twister
//     seeded from the low 32 bits of the seed, random() and random64(), and
//     the cached double normal sample that manual_seed clears.
//   - core/TransformationHelper.h and core/DistributionsHelper.h: the float
//     and double uniforms (24 and 53 random bits) and normal_distribution's
//     Box-Muller transform with its cached second sample.
//   - native/cpu/DistributionTemplates.h: normal_ on a contiguous float32
//     tensor of at least 16 values fills it with uniforms, transforms blocks of
//     16 (normal_fill_16_AVX2 or normal_fill_16), and, when the size is not a
//     multiple of 16, draws 16 fresh uniforms for the last 16 slots and
//     transforms them again; smaller tensors take normal_distribution<double>
//     value by value; uniform_ computes u*(b-a)+a in float.
//   - native/cpu/avx_mathfun.h: the log256_ps and sincos256_ps polynomials of
//     the AVX2 kernel.
//
// Where ATen calls the C library, the package reproduces glibc bit for bit:
// the scalar kernel's logf, sinf and cosf come from package glibcf32, and the
// small-tensor path's double log1p and sincos are ported in this package.
// glibc selects FMA-compiled variants of these routines on CPUs with FMA and
// AVX2, and those are the variants reproduced, for both math paths: they are
// what a CPU with AVX2 runs, also under ATEN_CPU_CAPABILITY=default. On an
// old CPU without AVX2, glibc's plain variants may differ in rare last bits.
//
// PyTorch computes these differently depending on the CPU capability ATen
// dispatches to, so the results depend on a MathPath: MathAVX2, what every
// x86-64 CPU with AVX2 gets by default (AVX-512 machines included), or
// MathDefault, the scalar build (ATEN_CPU_CAPABILITY=default, or CPUs without
// AVX2), which calls glibc's logf, sinf and cosf. The AVX2 build also fuses
// the multiply-add of uniform_ and of the small-tensor normal path.
//
// Tables are produced as a stream: a Tensor hands out its values in order,
// in chunks of any size, with memory independent of the table size.
package torchinit

import (
	"errors"
	"fmt"
	"math"
)

// MathPath selects which of PyTorch's CPU kernels to reproduce.
type MathPath int

const (
	// MathAVX2 is ATen's AVX2 kernel, the default on x86-64 CPUs with AVX2.
	MathAVX2 MathPath = iota
	// MathDefault is ATen's scalar kernel (ATEN_CPU_CAPABILITY=default).
	MathDefault
)

// String returns "avx2" or "default", the names ParseMathPath accepts.
func (p MathPath) String() string {
	switch p {
	case MathAVX2:
		return "avx2"
	case MathDefault:
		return "default"
	}
	return fmt.Sprintf("MathPath(%d)", int(p))
}

// ParseMathPath parses "avx2" or "default", as ATEN_CPU_CAPABILITY spells
// them.
func ParseMathPath(s string) (MathPath, error) {
	switch s {
	case "avx2":
		return MathAVX2, nil
	case "default":
		return MathDefault, nil
	}
	return 0, fmt.Errorf("torchinit: unknown math path %q (want avx2 or default)", s)
}

// Kind is an initialisation scheme.
type Kind int

const (
	// KindNormal is torch.nn.init.normal_(w, mean, std); nn.Embedding
	// uses it with mean 0 and std 1.
	KindNormal Kind = iota
	// KindUniform is torch.nn.init.uniform_(w, a, b).
	KindUniform
)

// Init describes how a tensor is initialised. Parameters are float64, as
// Python passes them; they are converted to float32 where ATen does.
type Init struct {
	Kind Kind
	// Mean and Std parameterise KindNormal.
	Mean, Std float64
	// Low and High parameterise KindUniform: values lie in [Low, High).
	Low, High float64
}

// Embedding returns the initialisation of torch.nn.Embedding's weight:
// normal with mean 0 and standard deviation 1.
func Embedding() Init { return Init{Kind: KindNormal, Mean: 0, Std: 1} }

// Normal returns torch.nn.init.normal_(w, mean, std).
func Normal(mean, std float64) Init { return Init{Kind: KindNormal, Mean: mean, Std: std} }

// Uniform returns torch.nn.init.uniform_(w, low, high).
func Uniform(low, high float64) Init { return Init{Kind: KindUniform, Low: low, High: high} }

// String describes the initialisation, e.g. "normal(0, 1)".
func (in Init) String() string {
	switch in.Kind {
	case KindNormal:
		return fmt.Sprintf("normal(%g, %g)", in.Mean, in.Std)
	case KindUniform:
		return fmt.Sprintf("uniform(%g, %g)", in.Low, in.High)
	}
	return fmt.Sprintf("Init(kind %d)", int(in.Kind))
}

// Validate reports the errors PyTorch raises for these parameters
// (native/DistributionTemplates.h): a negative or NaN std, or a uniform
// range that is reversed, NaN, or not representable in float32.
func (in Init) Validate() error {
	switch in.Kind {
	case KindNormal:
		if !(in.Std >= 0) {
			return fmt.Errorf("torchinit: normal expects std >= 0.0, got %g", in.Std)
		}
		return nil
	case KindUniform:
		const maxF = math.MaxFloat32
		if !(in.Low >= -maxF && in.Low <= maxF) || !(in.High >= -maxF && in.High <= maxF) {
			return fmt.Errorf("torchinit: uniform bounds [%g, %g) not representable in float32", in.Low, in.High)
		}
		if !(in.Low <= in.High) {
			return fmt.Errorf("torchinit: uniform expects low <= high, got low=%g high=%g", in.Low, in.High)
		}
		if in.High-in.Low > maxF {
			return fmt.Errorf("torchinit: uniform range high-low = %g exceeds the float32 maximum", in.High-in.Low)
		}
		return nil
	}
	return fmt.Errorf("torchinit: unknown init kind %d", int(in.Kind))
}

// ErrGeneratorBusy is returned by NewTensor while another tensor of the same
// generator still has values to hand out: PyTorch fills one tensor
// completely before the next draws, and so must the caller.
var ErrGeneratorBusy = errors.New("torchinit: the previous tensor of this generator is not fully filled")

// blockSize is the number of values normal_fill transforms at once.
const blockSize = 16

type mode int

const (
	modeUniform mode = iota // uniform_: one draw per value
	modeSmall               // normal_ on < 16 values: normal_distribution<double>
	modeBlocks              // normal_ on >= 16 values: blocks of 16
)

// Tensor streams the values of one initialised float32 tensor in row-major
// order, drawing from its Generator exactly as PyTorch does.
type Tensor struct {
	g     *Generator
	path  MathPath
	mode  mode
	numel int64
	done  int64 // values handed out so far

	// Parameters as the kernels see them.
	mean64, std64    float64 // small normal path: double
	mean32, std32    float32 // block normal path: float
	low32, span32    float32 // uniform: from and (to - from), float
	fusedSmallNormal bool

	// Block path: the current transformed block and what is left of it.
	block      [blockSize]float32
	bpos, blen int
	nextBlock  int64 // index of the next block to produce
	fullBlocks int64 // numel / 16
	rem        int   // numel % 16
}

// NewTensor starts a float32 tensor of numel values initialised by init, as
// torch computes it on the given math path. The generator is advanced only as
// values are filled; a second tensor may be created once this one is
// drained, and then continues from where torch's generator would be.
func (g *Generator) NewTensor(numel int64, init Init, path MathPath) (*Tensor, error) {
	if numel < 0 {
		return nil, fmt.Errorf("torchinit: negative size %d", numel)
	}
	if path != MathAVX2 && path != MathDefault {
		return nil, fmt.Errorf("torchinit: unknown math path %d", int(path))
	}
	if err := init.Validate(); err != nil {
		return nil, err
	}
	if g.active != nil && g.active.Remaining() > 0 {
		return nil, ErrGeneratorBusy
	}
	t := &Tensor{g: g, path: path, numel: numel}
	switch {
	case init.Kind == KindUniform:
		t.mode = modeUniform
		lo, hi := float32(init.Low), float32(init.High)
		t.low32, t.span32 = lo, hi-lo
	case numel < blockSize:
		t.mode = modeSmall
		t.mean64, t.std64 = init.Mean, init.Std
		t.fusedSmallNormal = path == MathAVX2
	default:
		t.mode = modeBlocks
		t.mean32, t.std32 = float32(init.Mean), float32(init.Std)
		t.fullBlocks, t.rem = numel/blockSize, int(numel%blockSize)
	}
	g.active = t
	return t, nil
}

// Len returns the number of values in the tensor.
func (t *Tensor) Len() int64 { return t.numel }

// Remaining returns the number of values not yet filled.
func (t *Tensor) Remaining() int64 { return t.numel - t.done }

// Fill writes the next values of the tensor into dst and returns how many it
// wrote: len(dst), or fewer when the tensor runs out (0 once it is drained).
func (t *Tensor) Fill(dst []float32) int {
	if r := t.Remaining(); int64(len(dst)) > r {
		dst = dst[:r]
	}
	n := len(dst)
	switch t.mode {
	case modeUniform:
		t.fillUniform(dst)
	case modeSmall:
		for i := range dst {
			dst[i] = float32(t.g.normalDouble(t.mean64, t.std64, t.fusedSmallNormal))
		}
	case modeBlocks:
		t.fillBlocks(dst)
	}
	t.done += int64(n)
	return n
}

// fillUniform computes uniform_real_distribution<float>(from, to):
// u*(to-from)+from, fused on the AVX2 path, straight from the generator's
// buffered outputs.
func (t *Tensor) fillUniform(dst []float32) {
	uniform := kern.uniformPlain
	if t.path == MathAVX2 {
		uniform = kern.uniformFused
	}
	m := &t.g.mt
	for len(dst) > 0 {
		src := m.buffered()
		k := min(len(dst), len(src))
		uniform(dst[:k], src[:k], t.low32, t.span32)
		m.next += k
		dst = dst[k:]
	}
}

// fillBlocks writes the next values of the block path to dst. Whole
// blocks that the tensor keeps entirely go straight from the generator's
// buffered outputs into dst; the rest (a block cut by a chunk edge, the
// last full block and the recomputed tail of a size that is not a multiple
// of 16) goes through t.block.
func (t *Tensor) fillBlocks(dst []float32) {
	normal := t.normalKernel()
	m := &t.g.mt
	for len(dst) > 0 {
		if t.bpos == t.blen {
			// Blocks that are kept whole: all full blocks, but the last
			// one when a recomputed tail overwrites part of it.
			whole := t.fullBlocks - t.nextBlock
			if t.rem != 0 {
				whole--
			}
			if nb := min(int64(len(dst)/blockSize), whole); nb > 0 {
				src := m.buffered()
				k := min(int(nb), len(src)/blockSize) * blockSize
				if k == 0 {
					// The next block straddles the end of the
					// generator's buffer.
					t.nextBlockValues()
					continue
				}
				normal(dst[:k], src[:k], t.mean32, t.std32)
				m.next += k
				t.nextBlock += int64(k / blockSize)
				dst = dst[k:]
				continue
			}
			t.nextBlockValues()
		}
		k := copy(dst, t.block[t.bpos:t.blen])
		t.bpos += k
		dst = dst[k:]
	}
}

func (t *Tensor) normalKernel() func(dst []float32, src []uint32, mean, std float32) {
	if t.path == MathAVX2 {
		return kern.normalAVX2
	}
	return kern.normalDefault
}

// nextBlockValues produces the next block of the normal_fill stream into
// t.block.
//
// normal_fill draws numel uniforms, transforms the full blocks of 16, and,
// when numel = 16q + r with r > 0, draws 16 more uniforms into the last 16
// slots and transforms them. The last full block therefore only keeps its
// first r values, the r uniforms after it are drawn but never used, and the
// tensor ends with the fresh block. The draws happen in exactly that order
// here, one block at a time.
func (t *Tensor) nextBlockValues() {
	var raw [blockSize]uint32
	m := &t.g.mt
	switch {
	case t.nextBlock < t.fullBlocks:
		m.fill(raw[:])
		t.blen = blockSize
		if t.rem != 0 && t.nextBlock == t.fullBlocks-1 {
			t.blen = t.rem
		}
	case t.rem != 0 && t.nextBlock == t.fullBlocks:
		// The uniforms of the partial block, overwritten in torch, then
		// the fresh block.
		m.fill(raw[:t.rem])
		m.fill(raw[:])
		t.blen = blockSize
	default:
		panic("torchinit: block stream overrun")
	}
	t.normalKernel()(t.block[:], raw[:], t.mean32, t.std32)
	t.bpos = 0
	t.nextBlock++
}
