// Command _generate writes the amd64 kernels of package torchinit with avo:
// ../kernels_amd64.s and its Go declarations, ../kernels_stubs_amd64.go.
// Run it with "go run ." in this directory (or "go generate" in the
// torchinit package); the output is committed.
//
// Every kernel must give, bit for bit, the result of the reference kernel
// set in ../kernels.go: the Mersenne Twister's twist and tempering, ATen's
// AVX2 Box-Muller kernel (the reference is ../avx2.go, which follows the
// compiled library's fused multiply-adds) and its scalar kernel on glibc's
// logf, sinf and cosf (../scalar.go and package glibcf32), and the uniform
// transform. So every floating-point operation below is the reference's
// operation, with its rounding: a fused multiply-add where the reference
// calls fma32.FMA or math.FMA, a multiply and an add where it rounds the
// product on its own. Where the order of a binary operation's sources
// could matter (NaN operands, signed zeros), the first source is the
// reference's left operand.
//
// Operand order follows the Go assembler: sources first, destination
// last, so VSUBPS(b, a, d) computes d = a - b and VFMADD231PS(m, a, d)
// computes d = a*m + d.
//
// Each kernel comes at two widths: AVX2 (8 float32 lanes, AVX2 and FMA)
// and AVX-512 (16 lanes, AVX-512F). The AVX2 kernels follow torch's own
// layout, one block of 16 values at a time (lanes j and j+8 of a block
// form a pair); the AVX-512 ones take two blocks at a time and shuffle
// their halves together.
package main

import (
	"flag"
	"fmt"
	"log"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	// Defaults, so that "go run ." with no flags regenerates the package.
	for name, value := range map[string]string{
		"out":   "../kernels_amd64.s",
		"stubs": "../kernels_stubs_amd64.go",
		"pkg":   "torchinit",
	} {
		if err := flag.Set(name, value); err != nil {
			log.Fatal(err)
		}
	}
	ConstraintExpr("amd64,gc,!noasm")
	for _, is := range isas {
		genMTBlock(is)
	}
	for _, is := range isas {
		genNormalAVX2(is)
	}
	for _, is := range isas {
		genNormalDefault(is)
	}
	for _, is := range isas {
		genUniform(is, true)
		genUniform(is, false)
	}
	Generate()
}

// An isa is a vector width and the instructions that differ with it.
type isa struct {
	name  string
	lanes int // float32 lanes of a full vector
}

var (
	avx2   = isa{name: "AVX2", lanes: 8}
	avx512 = isa{name: "AVX512", lanes: 16}
	isas   = []isa{avx2, avx512}
)

func (is isa) wide() bool { return is.lanes == 16 }

// vec returns a new full-width virtual register.
func (is isa) vec() reg.VecVirtual {
	if is.wide() {
		return ZMM()
	}
	return YMM()
}

// halfVec returns a new half-width virtual register.
func (is isa) halfVec() reg.VecVirtual {
	if is.wide() {
		return YMM()
	}
	return XMM()
}

// half returns the lower half of the full-width register v.
func (is isa) half(v reg.VecVirtual) reg.Register {
	if is.wide() {
		return v.AsY()
	}
	return v.AsX()
}

// full returns the full-width register whose lower half is h.
func (is isa) full(h reg.VecVirtual) reg.Register {
	if is.wide() {
		return h.AsZ()
	}
	return h.AsY()
}

func (is isa) load(src, dst Op) {
	if is.wide() {
		VMOVDQU32(src, dst)
	} else {
		VMOVDQU(src, dst)
	}
}

func (is isa) store(src reg.Register, dst Op) { is.load(src, dst) }

// Bitwise operations: dst = a op b (andn: dst = ^a & b).
func (is isa) and(b, a, dst Op) {
	if is.wide() {
		VPANDD(b, a, dst)
	} else {
		VPAND(b, a, dst)
	}
}

func (is isa) or(b, a, dst Op) {
	if is.wide() {
		VPORD(b, a, dst)
	} else {
		VPOR(b, a, dst)
	}
}

func (is isa) xor(b, a, dst Op) {
	if is.wide() {
		VPXORD(b, a, dst)
	} else {
		VPXOR(b, a, dst)
	}
}

func (is isa) andn(b, a, dst Op) {
	if is.wide() {
		VPANDND(b, a, dst)
	} else {
		VPANDN(b, a, dst)
	}
}

// Lane masks are vectors of all-ones or all-zeros lanes for AVX2 and
// opmask registers for AVX-512.

// cmpps returns the mask of the lanes where a pred b (a VCMPPS predicate).
func (is isa) cmpps(pred uint8, b Op, a reg.Register) reg.Register {
	var m reg.Register
	if is.wide() {
		m = K()
	} else {
		m = YMM()
	}
	VCMPPS(U8(pred), b, a, m)
	return m
}

// The VCMPPS predicates used.
const (
	cmpLTOS = 1 // _CMP_LT_OS
	cmpLEOS = 2 // _CMP_LE_OS
)

// eqd returns the mask of the lanes where the int32 lanes of a and b are
// equal.
func (is isa) eqd(b Op, a reg.Register) reg.Register {
	if is.wide() {
		m := K()
		VPCMPEQD(b, a, m)
		return m
	}
	m := YMM()
	VPCMPEQD(b, a, m)
	return m
}

// gtd returns the mask of the lanes where int32 a > int32 b.
func (is isa) gtd(b Op, a reg.Register) reg.Register {
	if is.wide() {
		m := K()
		VPCMPGTD(b, a, m)
		return m
	}
	m := YMM()
	VPCMPGTD(b, a, m)
	return m
}

// oddMask returns the mask of the lanes where the int32 n is odd.
func (is isa) oddMask(n reg.Register, one Mem) reg.Register {
	if is.wide() {
		m := K()
		VPTESTMD(one, n, m)
		return m
	}
	m := YMM()
	VPSLLD(U8(31), n, m) // VBLENDVPS looks at the sign bit only
	return m
}

// keep sets dst to x in the lanes of m and to +0 elsewhere.
func (is isa) keep(x Op, m reg.Register, dst reg.Register) {
	if is.wide() {
		VMOVDQU32_Z(x, m, dst)
	} else {
		VPAND(x, m, dst)
	}
}

// drop sets dst to +0 in the lanes of m and to x elsewhere.
func (is isa) drop(x reg.Register, m reg.Register, dst reg.Register) {
	if is.wide() {
		n := K()
		KNOTW(m, n)
		VMOVDQU32_Z(x, n, dst)
	} else {
		VPANDN(x, m, dst)
	}
}

// setOnes sets all bits of x in the lanes of m.
func (is isa) setOnes(x reg.Register, m reg.Register, ones Mem) {
	if is.wide() {
		VMOVDQU32(ones, m, x)
	} else {
		VPOR(m, x, x)
	}
}

// blend sets dst to a in the lanes of m and to b elsewhere.
func (is isa) blend(m reg.Register, a, b Op, dst reg.Register) {
	if is.wide() {
		VPBLENDMD(a, b, m, dst)
	} else {
		VBLENDVPS(m, a, b, dst)
	}
}

// splitHigh returns the upper half of the full-width register v.
func (is isa) splitHigh(v reg.Register) reg.VecVirtual {
	h := is.halfVec()
	if is.wide() {
		VEXTRACTF64X4(U8(1), v, h)
	} else {
		VEXTRACTF128(U8(1), v, h)
	}
	return h
}

// join returns the full-width register with lo and hi as its halves.
func (is isa) join(lo, hi reg.VecVirtual) reg.VecVirtual {
	v := is.vec()
	if is.wide() {
		VINSERTF64X4(U8(1), hi, is.full(lo), v)
	} else {
		VINSERTF128(U8(1), hi, is.full(lo), v)
	}
	return v
}

// narrow converts the float64 lanes of the full-width d to float32 in a
// new half-width register, rounding to nearest.
func (is isa) narrow(d reg.Register) reg.VecVirtual {
	h := is.halfVec()
	if is.wide() {
		VCVTPD2PS(d, h)
	} else {
		VCVTPD2PSY(d, h)
	}
	return h
}

// truncToInt converts the float64 lanes of d to int32 in a new half-width
// register, truncating.
func (is isa) truncToInt(d reg.Register) reg.VecVirtual {
	h := is.halfVec()
	if is.wide() {
		VCVTTPD2DQ(d, h)
	} else {
		VCVTTPD2DQY(d, h)
	}
	return h
}

// Constants. Each is a 64-byte vector of one repeated value, so that the
// same symbol serves as a 256-bit and as a 512-bit memory operand.

var consts = map[string]Mem{}

func vec32(name string, bits uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL("tc_"+name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(bits))
	}
	consts[name] = m
	return m
}

func f32(name string, v float32) Mem { return vec32(name, math.Float32bits(v)) }

func vec64(name string, bits uint64) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL("tc_"+name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(8*i, U64(bits))
	}
	consts[name] = m
	return m
}

func f64(name string, v float64) Mem { return vec64(name, math.Float64bits(v)) }

// table returns a table of float64 values.
func table(name string, vals []float64) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL("tt_"+name, RODATA|NOPTR)
	consts[name] = m
	for i, v := range vals {
		DATA(8*i, U64(math.Float64bits(v)))
	}
	return m
}

// vzeroupper ends a function that used the upper halves of vector
// registers.
func vzeroupper() { VZEROUPPER() }

// ---------------------------------------------------------------------------
// The Mersenne Twister.

const (
	mtN = 624
	mtM = 397
)

// genMTBlock writes mtBlock<ISA>(state, out *[624]uint32): the twist of
// all 624 state words in place, then their tempered values into out
// (mtBlockRef in ../mt19937.go).
//
// Word j of the new state is st[j+397] ^ mix(st[j], st[j+1]) for
// j < 227 and st[j-227] ^ mix(st[j], st[j+1]) after, where st[j-227] is
// already new; a vector of up to 227 consecutive words therefore only
// reads words that are final or not yet touched, except where it would
// straddle j = 227 (done one word at a time) and the last words, which
// wrap around to st[0].
func genMTBlock(is isa) {
	TEXT("mtBlock"+is.name, NOSPLIT, "func(state, out *[624]uint32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("mtBlock%s is mtBlockRef with %s.", is.name, is.name))
	st := Load(Param("state"), GP64())
	out := Load(Param("out"), GP64())

	upper, lower, matA := vec32("mtUpper", 0x80000000), vec32("mtLower", 0x7fffffff), vec32("mtMatrixA", 0x9908b0df)

	// twistVec does one vector of w at st[j], with the xor source at
	// st[j+off].
	twistVec := func(w isa, p reg.GPVirtual, off int) {
		a, b, y := w.vec(), w.vec(), w.vec()
		w.load(Mem{Base: p}, a)
		w.load(Mem{Base: p, Disp: 4}, b)
		w.and(upper, a, a)
		w.and(lower, b, y)
		w.or(y, a, a)
		VPSRLD(U8(1), a, a)
		// mag = b odd ? matrixA : 0
		VPSLLD(U8(31), b, b)
		VPSRAD(U8(31), b, b)
		w.and(matA, b, b)
		w.xor(b, a, a)
		w.xor(Mem{Base: p, Disp: 4 * off}, a, a)
		w.store(a, Mem{Base: p})
	}
	twistWord := func(j, src int) {
		a, b, t := GP32(), GP32(), GP32()
		MOVL(Mem{Base: st, Disp: 4 * j}, a)
		MOVL(Mem{Base: st, Disp: 4 * ((j + 1) % mtN)}, b)
		ANDL(U32(0x80000000), a)
		MOVL(b, t)
		ANDL(U32(0x7fffffff), t)
		ORL(t, a)
		SHRL(U8(1), a)
		ANDL(U32(1), b)
		NEGL(b)
		ANDL(U32(0x9908b0df), b)
		XORL(b, a)
		XORL(Mem{Base: st, Disp: 4 * src}, a)
		MOVL(a, Mem{Base: st, Disp: 4 * j})
	}
	// loop emits a loop of vectors of w from word j0 while j < j1
	// (j1-j0 a multiple of w.lanes), xoring with st[j+off].
	loop := func(w isa, j0, j1, off int) {
		p, end := GP64(), GP64()
		LEAQ(Mem{Base: st, Disp: 4 * j0}, p)
		LEAQ(Mem{Base: st, Disp: 4 * j1}, end)
		top := fmt.Sprintf("mt%s_%d", is.name, j0)
		Label(top)
		twistVec(w, p, off)
		ADDQ(U8(4*w.lanes), p)
		CMPQ(p, end)
		JB(LabelRef(top))
	}

	Comment("j < 227: st[j] ^= ... st[j+397] (old words)")
	j1 := (mtN - mtM) / is.lanes * is.lanes
	loop(is, 0, j1, mtM)
	for j := j1; j < mtN-mtM; j++ {
		twistWord(j, j+mtM)
	}
	Comment("227 <= j < 623: st[j-227] (new words)")
	j0 := mtN - mtM
	n := (mtN - 1 - j0) / is.lanes * is.lanes
	loop(is, j0, j0+n, mtM-mtN)
	j := j0 + n
	if is.wide() && mtN-1-j >= avx2.lanes {
		p := GP64()
		LEAQ(Mem{Base: st, Disp: 4 * j}, p)
		twistVec(avx2, p, mtM-mtN)
		j += avx2.lanes
	}
	for ; j < mtN; j++ {
		twistWord(j, (j+mtM)%mtN)
	}

	Comment("Temper into out.")
	b, c := vec32("mtTemperB", 0x9d2c5680), vec32("mtTemperC", 0xefc60000)
	i, end := GP64(), GP64()
	XORQ(i, i)
	MOVQ(U32(4*mtN), end)
	Label("temper" + is.name)
	y, t := is.vec(), is.vec()
	is.load(Mem{Base: st, Index: i, Scale: 1}, y)
	VPSRLD(U8(11), y, t)
	is.xor(t, y, y)
	VPSLLD(U8(7), y, t)
	is.and(b, t, t)
	is.xor(t, y, y)
	VPSLLD(U8(15), y, t)
	is.and(c, t, t)
	is.xor(t, y, y)
	VPSRLD(U8(18), y, t)
	is.xor(t, y, y)
	is.store(y, Mem{Base: out, Index: i, Scale: 1})
	ADDQ(U8(4*is.lanes), i)
	CMPQ(i, end)
	JB(LabelRef("temper" + is.name))
	vzeroupper()
	RET()
}

// uniforms converts the raw outputs in v to float uniforms in [0, 1):
// the low 24 bits times 2^-24, both exact.
func uniforms(is isa, v reg.Register) {
	is.and(vec32("mask24", 1<<24-1), v, v)
	VCVTDQ2PS(v, v)
	VMULPS(f32("twoM24", 0x1p-24), v, v)
}

// loadPairs loads the raw outputs of the blocks at src: the first halves
// (the u1 of each pair) into a and the second halves (the u2) into b. For
// AVX-512 these are two blocks, whose halves are shuffled together.
func loadPairs(is isa, src reg.Register) (a, b reg.VecVirtual) {
	a, b = is.vec(), is.vec()
	if !is.wide() {
		is.load(Mem{Base: src}, a)
		is.load(Mem{Base: src, Disp: 32}, b)
		return a, b
	}
	x, y := is.vec(), is.vec()
	is.load(Mem{Base: src}, x)
	is.load(Mem{Base: src, Disp: 64}, y)
	VSHUFI64X2(U8(0x44), y, x, a) // x[0:8], y[0:8]
	VSHUFI64X2(U8(0xee), y, x, b) // x[8:16], y[8:16]
	return a, b
}

// storePairs stores the results of loadPairs' lanes: a to the first
// halves of the blocks and b to the second halves.
func storePairs(is isa, a, b reg.VecVirtual, dst reg.Register) {
	if !is.wide() {
		is.store(a, Mem{Base: dst})
		is.store(b, Mem{Base: dst, Disp: 32})
		return
	}
	x, y := is.vec(), is.vec()
	VSHUFF64X2(U8(0x44), b, a, x)
	VSHUFF64X2(U8(0xee), b, a, y)
	is.store(x, Mem{Base: dst})
	is.store(y, Mem{Base: dst, Disp: 64})
}

// blockLoop emits the loop of a normal kernel over len(src)/16 blocks,
// is.lanes/8 blocks per iteration; body computes dst from src. The Go
// wrapper passes a whole number of iterations.
func blockLoop(is isa, body func(src, dst reg.Register)) {
	dst := Load(Param("dst").Base(), GP64())
	src := Load(Param("src").Base(), GP64())
	n := Load(Param("src").Len(), GP64())
	SHLQ(U8(2), n)
	ADDQ(src, n) // end of src
	name := "loop"
	Label(name)
	CMPQ(src, n)
	JAE(LabelRef("done"))
	body(src, dst)
	ADDQ(U8(8*is.lanes), src)
	ADDQ(U8(8*is.lanes), dst)
	JMP(LabelRef(name))
	Label("done")
	vzeroupper()
	RET()
}

// broadcastParam loads a float32 parameter into every lane of a new
// register.
func broadcastParam(is isa, name string) reg.VecVirtual {
	x := Load(Param(name), XMM())
	v := is.vec()
	VBROADCASTSS(x, v)
	return v
}

// ---------------------------------------------------------------------------
// ATen's AVX2 kernel: normal_fill_16_AVX2 with log256_ps and sincos256_ps.

// genNormalAVX2 writes normalAVX2<ISA>(dst []float32, src []uint32, mean,
// std float32): normalAVX2Ref over the blocks of src.
func genNormalAVX2(is isa) {
	TEXT("normalAVX2"+is.name, NOSPLIT, "func(dst []float32, src []uint32, mean, std float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("normalAVX2%s is normalAVX2Ref with %s, on %d blocks at a time.", is.name, is.name, is.lanes/8))
	mean := broadcastParam(is, "mean")
	std := broadcastParam(is, "std")
	one := f32("one", 1)
	blockLoop(is, func(src, dst reg.Register) {
		u1, u2 := loadPairs(is, src)
		uniforms(is, u1)
		uniforms(is, u2)
		// u1 = 1 - u
		o := is.vec()
		VMOVUPS(one, o)
		VSUBPS(u1, o, u1)
		// radius = sqrt(-2 * log(u1))
		l := log256(is, u1)
		VMULPS(f32("minus2", -2), l, l)
		VSQRTPS(l, l)
		// theta = 2pi * u2
		VMULPS(vec32("twoPi32", 0x40c90fdb), u2, u2)
		s, c := sincos256(is, u2)
		// radius*c*std + mean, the last two fused
		VMULPS(c, l, c)
		VFMADD213PS(mean, std, c)
		VMULPS(s, l, s)
		VFMADD213PS(mean, std, s)
		storePairs(is, c, s, dst)
	})
}

// log256 is log256_ps (log256 in ../avx2.go) on the lanes of x, which it
// overwrites; it returns the register holding the result.
func log256(is isa, x reg.VecVirtual) reg.VecVirtual {
	one := f32("one", 1)
	invalid := is.cmpps(cmpLEOS, vec32("zero", 0), x)
	VMAXPS(vec32("minNormPos", 0x00800000), x, x) // max(x, min_norm_pos): NaN gives min_norm_pos
	e := is.vec()
	VPSRLD(U8(23), x, e)
	is.and(vec32("invMantMask", ^uint32(0x7f800000)), x, x)
	is.or(f32("half", 0.5), x, x)
	VPSUBD(vec32("i0x7f", 0x7f), e, e)
	VCVTDQ2PS(e, e)
	VADDPS(one, e, e)

	mask := is.cmpps(cmpLTOS, vec32("sqrtHF", 0x3f3504f3), x)
	tmp := is.vec()
	is.keep(x, mask, tmp)
	VSUBPS(one, x, x)
	t := is.vec()
	is.keep(one, mask, t)
	VSUBPS(t, e, e)
	VADDPS(tmp, x, x)

	z := is.vec()
	VMULPS(x, x, z)

	y := is.vec()
	VMOVUPS(vec32("logP0", 0x3d9021bb), y)
	for i, bits := range []uint32{0xbdebd1b8, 0x3def251a, 0xbdfe5d4f, 0x3e11e9bf, 0xbe2aae50, 0x3e4cceac, 0xbe7ffffc, 0x3eaaaaaa} {
		VFMADD213PS(vec32(fmt.Sprintf("logP%d", i+1), bits), x, y) // y = y*x + p
	}
	VMULPS(x, y, y)
	VMULPS(vec32("logQ1", 0xb95e8083), e, tmp) // separate e*q1 ...
	VFMADD213PS(tmp, z, y)                     // ... then y*z + tmp fused
	VFNMADD231PS(f32("half", 0.5), z, y)       // y - z*0.5 fused
	VADDPS(y, x, x)
	VFMADD231PS(vec32("logQ2", 0x3f318000), e, x) // x + e*q2 fused
	is.setOnes(x, invalid, vec32("ones", 0xffffffff))
	return x
}

// sincos256 is sincos256_ps (sincos256 in ../avx2.go) on the lanes of x,
// which it overwrites; it returns the registers holding sine and cosine.
func sincos256(is isa, x reg.VecVirtual) (sin, cos reg.VecVirtual) {
	signSin := is.vec()
	is.and(vec32("signMask", 0x80000000), x, signSin)
	is.and(vec32("invSignMask", 0x7fffffff), x, x)

	y := is.vec()
	VMULPS(vec32("fopi", 0x3fa2f983), x, y)
	j := is.vec()
	VCVTTPS2DQ(y, j)
	VPADDD(vec32("i1", 1), j, j)
	is.and(vec32("inv1", ^uint32(1)), j, j)
	VCVTDQ2PS(j, y)

	swap := is.vec()
	is.and(vec32("i4", 4), j, swap)
	VPSLLD(U8(29), swap, swap)
	poly := is.vec()
	is.and(vec32("i2", 2), j, poly)
	polyMask := is.eqd(vec32("zero", 0), poly) // the sine takes the sine polynomial

	VFMADD231PS(vec32("minusDP1", 0xbf490000), y, x)
	VFMADD231PS(vec32("minusDP2", 0xb97da000), y, x)
	VFMADD231PS(vec32("minusDP3", 0xb3222169), y, x)

	// signCos = ^(j-2) & 4 << 29
	VPSUBD(vec32("i2", 2), j, j)
	is.andn(vec32("i4", 4), j, j)
	VPSLLD(U8(29), j, j)
	signCos := j
	is.xor(swap, signSin, signSin)

	z := is.vec()
	VMULPS(x, x, z)

	yc := is.vec()
	VMOVUPS(vec32("cosP0", 0x37ccf5ce), yc)
	VFMADD213PS(vec32("cosP1", 0xbab6061a), z, yc)
	VFMADD213PS(vec32("cosP2", 0x3d2aaaa5), z, yc)
	tmp := is.vec()
	VMULPS(f32("half", 0.5), z, tmp)
	VMULPS(z, yc, yc)
	VFMSUB213PS(tmp, z, yc) // yc*z - tmp fused
	VADDPS(f32("one", 1), yc, yc)

	ys := is.vec()
	VMOVUPS(vec32("sinP0", 0xb94ca1f9), ys)
	VFMADD213PS(vec32("sinP1", 0x3c08839e), z, ys)
	VFMADD213PS(vec32("sinP2", 0xbe2aaaa3), z, ys)
	VMULPS(z, ys, ys)
	VFMADD213PS(x, x, ys) // ys*x + x fused

	ysin2, ysin1 := is.vec(), is.vec()
	is.keep(ys, polyMask, ysin2)
	is.drop(yc, polyMask, ysin1)
	VSUBPS(ysin2, ys, ys)
	VSUBPS(ysin1, yc, yc)
	VADDPS(ysin2, ysin1, ysin1) // ysin1 + ysin2
	VADDPS(ys, yc, yc)          // yc + ys
	is.xor(signSin, ysin1, ysin1)
	is.xor(signCos, yc, yc)
	return ysin1, yc
}

// ---------------------------------------------------------------------------
// ATen's scalar kernel: normal_fill_16 with glibc's logf, sinf and cosf,
// which compute in double. Each float32 vector is processed as two
// float64 halves.

var (
	logfInvc = []float64{
		0x1.661ec79f8f3bep+0, 0x1.571ed4aaf883dp+0, 0x1.49539f0f010bp+0, 0x1.3c995b0b80385p+0,
		0x1.30d190c8864a5p+0, 0x1.25e227b0b8eap+0, 0x1.1bb4a4a1a343fp+0, 0x1.12358f08ae5bap+0,
		0x1.0953f419900a7p+0, 0x1p+0, 0x1.e608cfd9a47acp-1, 0x1.ca4b31f026aap-1,
		0x1.b2036576afce6p-1, 0x1.9c2d163a1aa2dp-1, 0x1.886e6037841edp-1, 0x1.767dcf5534862p-1,
	}
	logfLogc = []float64{
		-0x1.57bf7808caadep-2, -0x1.2bef0a7c06ddbp-2, -0x1.01eae7f513a67p-2, -0x1.b31d8a68224e9p-3,
		-0x1.6574f0ac07758p-3, -0x1.1aa2bc79c81p-3, -0x1.a4e76ce8c0e5ep-4, -0x1.1973c5a611cccp-4,
		-0x1.252f438e10c1ep-5, 0x0p+0, 0x1.aa5aa5df25984p-5, 0x1.c5e53aa362eb4p-4,
		0x1.526e57720db08p-3, 0x1.bc2860d22477p-3, 0x1.1058bc8a07ee1p-2, 0x1.4043057b6ee09p-2,
	}
)

// genNormalDefault writes normalDefault<ISA>(dst []float32, src []uint32,
// mean, std float32): normalDefaultRef over the blocks of src.
//
// The inputs of the C library functions are limited, and the kernel
// relies on it: logf gets u1 = 1 - u in [2^-24, 1], all normal floats, and
// sinf and cosf get theta = float32(2pi * u2) in [0, 2pi), where glibc
// takes one of two branches: theta < 2^-12 returns theta and 1; otherwise
// the fast reduction by pi/2 (for theta < pi/4 it is exact and gives
// quadrant 0, the same as glibc's branch without reduction). The tests
// check every possible input against torch.
func genNormalDefault(is isa) {
	TEXT("normalDefault"+is.name, NOSPLIT, "func(dst []float32, src []uint32, mean, std float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("normalDefault%s is normalDefaultRef with %s, on %d blocks at a time.", is.name, is.name, is.lanes/8))
	mean := broadcastParam(is, "mean")
	std := broadcastParam(is, "std")
	var invcLo, logcLo reg.VecVirtual
	var invcTab, logcTab reg.GPVirtual
	if is.wide() {
		// The 16-entry tables: the lower 8 entries in registers, the
		// upper 8 read by VPERMI2PD from memory.
		invcLo, logcLo = ZMM(), ZMM()
		VMOVUPD(table("logfInvc", logfInvc), invcLo)
		VMOVUPD(table("logfLogc", logfLogc), logcLo)
	} else {
		invcTab, logcTab = GP64(), GP64()
		LEAQ(table("logfInvc", logfInvc), invcTab)
		LEAQ(table("logfLogc", logfLogc), logcTab)
	}
	lookup := func(idx reg.Register, lo reg.VecVirtual, tab reg.GPVirtual, name string) reg.VecVirtual {
		v := is.vec()
		if is.wide() {
			VPMOVZXDQ(idx, v)
			VPERMI2PD(consts[name].Offset(64), lo, v)
			return v
		}
		m := is.vec()
		VPCMPEQD(m, m, m)
		VXORPD(v, v, v)
		VGATHERDPD(m, Mem{Base: tab, Index: idx, Scale: 8}, v)
		return v
	}
	one := f32("one", 1)
	blockLoop(is, func(src, dst reg.Register) {
		u1, u2 := loadPairs(is, src)
		uniforms(is, u1)
		uniforms(is, u2)
		o := is.vec()
		VMOVUPS(one, o)
		VSUBPS(u1, o, u1) // u1 = 1 - u

		// logf(u1): x = 2^k z, log(x) = log1p(z/c - 1) + log(c) + k ln2
		tmp := is.vec()
		VPSUBD(vec32("logfOff", 0x3f330000), u1, tmp)
		idx := is.vec()
		VPSRLD(U8(19), tmp, idx)
		is.and(vec32("i15", 15), idx, idx)
		k := is.vec()
		VPSRAD(U8(23), tmp, k)
		is.and(vec32("expMask", 0xff800000), tmp, tmp)
		VPSUBD(tmp, u1, u1) // iz
		var logs [2]reg.VecVirtual
		for h := range 2 {
			var izh, kh, ih reg.Register
			if h == 0 {
				izh, kh, ih = is.half(u1), is.half(k), is.half(idx)
			} else {
				izh, kh, ih = is.splitHigh(u1), is.splitHigh(k), is.splitHigh(idx)
			}
			z, kd := is.vec(), is.vec()
			VCVTPS2PD(izh, z)
			VCVTDQ2PD(kh, kd)
			invc := lookup(ih, invcLo, invcTab, "logfInvc")
			logc := lookup(ih, logcLo, logcTab, "logfLogc")
			VFMSUB213PD(f64("d1", 1), invc, z)                      // r = z*invc - 1 fused
			VFMADD231PD(f64("ln2", 0x1.62e42fefa39efp-1), kd, logc) // y0 = k*ln2 + logc fused
			r2 := is.vec()
			VMULPD(z, z, r2)
			y := is.vec()
			VMOVUPD(f64("logfA2", -0x1.ffffef20a4123p-2), y)
			VFMADD231PD(f64("logfA1", 0x1.5575b0be00b6ap-2), z, y)   // A1*r + A2
			VFMADD231PD(f64("logfA0", -0x1.00ea348b88334p-2), r2, y) // A0*r2 + y
			VADDPD(z, logc, logc)                                    // y0 + r
			VFMADD213PD(logc, r2, y)                                 // y*r2 + (y0+r)
			logs[h] = is.narrow(y)
		}
		l := is.join(logs[0], logs[1])
		VMULPS(f32("minus2", -2), l, l)
		VSQRTPS(l, l) // radius

		// theta = float32(2pi * float64(u2))
		var th [2]reg.VecVirtual
		for h := range 2 {
			var uh reg.Register
			if h == 0 {
				uh = is.half(u2)
			} else {
				uh = is.splitHigh(u2)
			}
			d := is.vec()
			VCVTPS2PD(uh, d)
			VMULPD(f64("twoPi64", 2*math.Pi), d, d)
			th[h] = is.narrow(d)
		}
		theta := is.join(th[0], th[1])

		// sinf and cosf of theta in double: reduce by pi/2 to x in about
		// [-pi/4, pi/4] and quadrant n, evaluate both polynomials.
		var sins, coss, ns [2]reg.VecVirtual
		for h := range 2 {
			var tf reg.Register
			if h == 0 {
				tf = th[0]
			} else {
				tf = th[1]
			}
			x := is.vec()
			VCVTPS2PD(tf, x)
			r := is.vec()
			VMULPD(f64("hpiInv", 0x1.45F306DC9C883p+23), x, r)
			n := is.truncToInt(r)
			VPADDD(vec32("i0x800000", 0x800000), n, n)
			VPSRAD(U8(24), n, n)
			nd := is.vec()
			VCVTDQ2PD(n, nd)
			VFNMADD231PD(f64("hpi", 0x1.921FB54442D18p0), nd, x) // x - n*hpi fused
			x2 := is.vec()
			VMULPD(x, x, x2)
			// sine polynomial
			x3, s1, x7 := is.vec(), is.vec(), is.vec()
			VMULPD(x2, x, x3)
			VMOVUPD(f64("sinS2", 0x1.1107605230bc4p-7), s1)
			VFMADD231PD(f64("sinS3", -0x1.994eb3774cf24p-13), x2, s1) // x2*s3 + s2
			VMULPD(x2, x3, x7)
			VFMADD231PD(f64("sinS1", -0x1.555545995a603p-3), x3, x) // x3*s1 + x
			VFMADD231PD(s1, x7, x)                                  // x7*s1 + s
			sins[h] = is.narrow(x)
			// cosine polynomial
			x4, c2, c1, x6 := is.vec(), is.vec(), is.vec(), is.vec()
			VMULPD(x2, x2, x4)
			VMOVUPD(f64("cosC3", -0x1.6c087e89a359dp-10), c2)
			VFMADD231PD(f64("cosC4", 0x1.99343027bf8c3p-16), x2, c2) // x2*c4 + c3
			VMOVUPD(f64("d1", 1), c1)
			VFMADD231PD(f64("cosC1", -0x1.ffffffd0c621cp-2), x2, c1) // x2*c1 + c0
			VMULPD(x2, x4, x6)
			VFMADD231PD(f64("cosC2", 0x1.55553e1068f19p-5), x4, c1) // x4*c2 + c1
			VFMADD231PD(c2, x6, c1)                                 // x6*c2 + c
			coss[h] = is.narrow(c1)
			ns[h] = n
		}
		sinv := is.join(sins[0], sins[1])
		cosv := is.join(coss[0], coss[1])
		n := is.vec()
		if is.wide() {
			VINSERTI64X4(U8(1), ns[1], is.full(ns[0]), n)
		} else {
			VINSERTI128(U8(1), ns[1], is.full(ns[0]), n)
		}
		// The sine polynomial's sign is negative in quadrants 1 and 2 (n+1
		// has bit 1 set), the cosine's in quadrants 2 and 3 (bit 1 of n);
		// odd quadrants swap the two.
		sign := is.vec()
		VPADDD(vec32("i1", 1), n, sign)
		is.and(vec32("i2", 2), sign, sign)
		VPSLLD(U8(30), sign, sign)
		is.xor(sign, sinv, sinv)
		is.and(vec32("i2", 2), n, sign)
		VPSLLD(U8(30), sign, sign)
		is.xor(sign, cosv, cosv)
		odd := is.oddMask(n, vec32("i1", 1))
		sn, cs := is.vec(), is.vec()
		is.blend(odd, cosv, sinv, sn)
		is.blend(odd, sinv, cosv, cs)
		// theta < 2^-12: sin = theta, cos = 1
		tinyBits := is.vec()
		is.load(vec32("tinyBits", 0x39800000), tinyBits)
		tiny := is.gtd(theta, tinyBits)
		is.blend(tiny, theta, sn, sn)
		is.blend(tiny, one, cs, cs)

		// radius*c*std + mean, each step rounded
		VMULPS(cs, l, cs)
		VMULPS(std, cs, cs)
		VADDPS(mean, cs, cs)
		VMULPS(sn, l, sn)
		VMULPS(std, sn, sn)
		VADDPS(mean, sn, sn)
		storePairs(is, cs, sn, dst)
	})
}

// ---------------------------------------------------------------------------
// uniform_: u*span + lo.

// genUniform writes uniform{Fused,Plain}<ISA>(dst []float32, src []uint32,
// lo, span float32): the uniform reference kernels on len(src) rounded
// down to a multiple of the vector width.
func genUniform(is isa, fused bool) {
	name := "uniformPlain" + is.name
	if fused {
		name = "uniformFused" + is.name
	}
	TEXT(name, NOSPLIT, "func(dst []float32, src []uint32, lo, span float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is %sRef with %s, on len(src) rounded down to a multiple of %d.", name, name[:len(name)-len(is.name)], is.name, is.lanes))
	lo := broadcastParam(is, "lo")
	span := broadcastParam(is, "span")
	dst := Load(Param("dst").Base(), GP64())
	src := Load(Param("src").Base(), GP64())
	n := Load(Param("src").Len(), GP64())
	ANDQ(I32(-is.lanes), n)
	SHLQ(U8(2), n)
	ADDQ(src, n)
	Label("loop")
	CMPQ(src, n)
	JAE(LabelRef("done"))
	u := is.vec()
	is.load(Mem{Base: src}, u)
	uniforms(is, u)
	if fused {
		VFMADD213PS(lo, span, u) // u*span + lo fused
	} else {
		VMULPS(span, u, u)
		VADDPS(lo, u, u)
	}
	is.store(u, Mem{Base: dst})
	ADDQ(U8(4*is.lanes), src)
	ADDQ(U8(4*is.lanes), dst)
	JMP(LabelRef("loop"))
	Label("done")
	vzeroupper()
	RET()
}
