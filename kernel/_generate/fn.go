package main

import (
	"fmt"
	"log"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// An isa is an instruction-set family: its vector width and how many
// accumulators a bag keeps in registers.
type isa struct {
	name   string
	lanes  int   // float32 lanes of a full vector
	blocks []int // bag column blocks, in full vectors, largest first
}

var isas = []isa{
	{name: "AVX2", lanes: 8, blocks: []int{8, 4, 2, 1}},
	{name: "AVX512", lanes: 16, blocks: []int{16, 8, 4, 2, 1}},
}

func (is isa) avx512() bool { return is.lanes == 16 }

// full returns a new virtual register of the isa's full width.
func (is isa) full() reg.VecVirtual {
	if is.avx512() {
		return ZMM()
	}
	return YMM()
}

// A dtype is a row encoding (the format specification's "Rows").
type dtype struct {
	name string
	size int // bytes per value
}

var (
	f32    = dtype{"F32", 4}
	f16    = dtype{"F16", 2}
	bf16   = dtype{"BF16", 2}
	int8   = dtype{"Int8", 1}
	dtypes = []dtype{f32, f16, bf16, int8}
)

// A shape is how many float32 values one register operation handles.
type shape struct {
	lanes  int  // 16, 8, 4 or 1 (scalar)
	masked bool // AVX-512 tail: the lanes under the function's tail mask
}

func (s shape) vec() reg.VecVirtual {
	switch s.lanes {
	case 16:
		return ZMM()
	case 8:
		return YMM()
	}
	return XMM()
}

// narrow returns the part of a full-width register that shape s uses.
func (s shape) narrow(r reg.VecVirtual) reg.VecVirtual {
	switch s.lanes {
	case 16:
		return r
	case 8:
		return r.AsY().(reg.VecVirtual)
	}
	return r.AsX().(reg.VecVirtual)
}

// fn holds the state of the function being generated.
type fn struct {
	name string
	is   isa
	dt   dtype
	k    reg.OpmaskVirtual // AVX-512 tail mask: the dim%16 low lanes
	// Row parameters, broadcast to the full width: int8 scale and bias,
	// and the bag's per-sample weight.
	scale, bias, weight reg.VecVirtual
	int8Special         bool // the row's scale is not finite: multiply, then add
	weightSpecial       bool // the weight is zero or not finite: multiply, then add
	badAt               Mem  // bag: where the failing id is, for the return
	labels              int
}

func log2(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}

// label returns a new label name unique in the file.
func (g *fn) label(what string) string {
	g.labels++
	return fmt.Sprintf("%s_%s%d", g.name, what, g.labels)
}

func param(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		log.Fatal(err)
	}
	return b.Addr
}

func paramLen(name string) Mem {
	b, err := Param(name).Len().Resolve()
	if err != nil {
		log.Fatal(err)
	}
	return b.Addr
}

// load reads values of the function's dtype at m and returns them as
// float32 in a register of shape s, exactly as format.DecodeRow does.
func (g *fn) load(s shape, m Mem) reg.VecVirtual {
	x := s.vec()
	switch g.dt {
	case f32:
		switch {
		case s.masked:
			VMOVUPS_Z(m, g.k, x)
		case s.lanes == 1:
			VMOVSS(m, x)
		default:
			VMOVUPS(m, x)
		}
	case f16:
		// VCVTPH2PS is exact and quiets signalling NaNs, as the reference's
		// table does.
		switch {
		case s.masked:
			VCVTPH2PS_Z(m, g.k, x)
		case s.lanes == 1:
			t := GP32()
			MOVWLZX(m, t)
			VMOVD(t, x)
			VCVTPH2PS(x, x)
		default:
			VCVTPH2PS(m, x)
		}
	case bf16:
		switch {
		case s.masked:
			VPMOVZXWD_Z(m, g.k, x)
		case s.lanes == 1:
			t := GP32()
			MOVWLZX(m, t)
			SHLL(U8(16), t)
			VMOVD(t, x)
			return x
		default:
			VPMOVZXWD(m, x)
		}
		VPSLLD(U8(16), x, x)
	case int8:
		switch {
		case s.masked:
			VPMOVZXBD_Z(m, g.k, x)
			VCVTDQ2PS(x, x)
		case s.lanes == 1:
			t := GP32()
			MOVBLZX(m, t)
			VXORPS(x, x, x)
			VCVTSI2SSL(t, x, x)
		default:
			VPMOVZXBD(m, x)
			VCVTDQ2PS(x, x)
		}
		sc, bi := s.narrow(g.scale), s.narrow(g.bias)
		if g.int8Special {
			// scale*q is exact when scale is ±Inf or NaN; the sum then
			// rounds once, as fma does. First sources: scale, then the
			// product, as in the reference's float64 arithmetic.
			p := s.vec()
			if s.lanes == 1 {
				VMULSS(x, sc, p)
				VADDSS(bi, p, x)
			} else {
				VMULPS(x, sc, p)
				VADDPS(bi, p, x)
			}
		} else {
			// x = scale*x + bias, one rounding.
			if s.lanes == 1 {
				VFMADD213SS(bi, sc, x)
			} else {
				VFMADD213PS(bi, sc, x)
			}
		}
	}
	return x
}

// loadF32 reads float32 values (positional rows, bag accumulators).
func (g *fn) loadF32(s shape, m Mem) reg.VecVirtual {
	x := s.vec()
	switch {
	case s.masked:
		VMOVUPS_Z(m, g.k, x)
	case s.lanes == 1:
		VMOVSS(m, x)
	default:
		VMOVUPS(m, x)
	}
	return x
}

func (g *fn) store(s shape, x reg.VecVirtual, m Mem) {
	switch {
	case s.masked:
		VMOVUPS(x, g.k, m)
	case s.lanes == 1:
		VMOVSS(x, m)
	default:
		VMOVUPS(x, m)
	}
}

// add computes dst = a + b with a as the first source.
func add(s shape, a, b, dst reg.VecVirtual) {
	if s.lanes == 1 {
		VADDSS(b, a, dst)
	} else {
		VADDPS(b, a, dst)
	}
}

// setTailMask sets g.k to the low dim%16 lanes.
func (g *fn) setTailMask(dim reg.GPVirtual) {
	g.k = K()
	t := GP64()
	MOVQ(dim, reg.RCX)
	ANDQ(U8(15), reg.RCX)
	MOVQ(U32(1), t)
	SHLQ(reg.CL, t)
	DECQ(t)
	KMOVW(t.As32(), g.k)
}

// prefetchRange issues PREFETCHT0 on every 64-byte line of [lo, hi); it
// clobbers lo.
func (g *fn) prefetchRange(lo, hi reg.GPVirtual) {
	loop := g.label("pf")
	ANDQ(I8(-64), lo)
	Label(loop)
	PREFETCHT0(Mem{Base: lo})
	ADDQ(U8(64), lo)
	CMPQ(lo, hi)
	JB(LabelRef(loop))
}

// idsBounds loads the ids slice and stores, in idsEnd, the address past its
// last id; in pfOff, the prefetch distance pfDist in bytes of ids; and in
// pfEnd, the first id whose row ids[j+pfDist] would lie past the end, so that
// row ids[j+d] is prefetched while j+d < n (pfDist 0 puts pfEnd at the
// first id, turning prefetching off). It returns the register holding ids.
func (g *fn) idsBounds(idsEnd, pfEnd, pfOff Mem) reg.GPVirtual {
	ids := ld(Param("ids").Base())
	n := ld(Param("ids").Len())
	t := GP64()
	LEAQ(Mem{Base: ids, Index: n, Scale: 8}, t)
	MOVQ(t, idsEnd)
	d := ld(Param("pfDist"))
	SHLQ(U8(3), d)
	MOVQ(d, pfOff)
	SUBQ(d, t)
	TESTQ(d, d)
	CMOVQEQ(ids, t)
	MOVQ(t, pfEnd)
	return ids
}

// ld loads a parameter into a new 64-bit register.
func ld(c gotypes.Component) reg.GPVirtual {
	r := GP64()
	Load(c, r)
	return r
}
