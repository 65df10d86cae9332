// Command _generate writes the amd64 gather and bag kernels of package
// kernel with avo: ../gather_amd64.s and its Go declarations,
// ../gather_stubs_amd64.go. Run it with "go run ." in this directory (or
// "go generate" in the kernel package); the output is committed.
//
// Every kernel must give, bit for bit, the result of the reference
// implementation in ../gather_generic.go, NaN payloads included. The
// operand order of each floating-point instruction is chosen for that: on
// x86 a binary operation that meets two NaNs returns its first source,
// quieted, so each instruction below names its first source in a comment
// where the reference's compiled Go decides it.
package main

import (
	"flag"
	"fmt"
	"log"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	// Defaults, so that "go run ." with no flags regenerates the package.
	for name, value := range map[string]string{
		"out":   "../gather_amd64.s",
		"stubs": "../gather_stubs_amd64.go",
		"pkg":   "kernel",
	} {
		if err := flag.Set(name, value); err != nil {
			log.Fatal(err)
		}
	}
	generateDot() // dot.go: dot_amd64.s, dot_stubs_amd64.go
	ConstraintExpr("amd64,gc,!noasm")
	for _, is := range isas {
		for _, dt := range dtypes {
			genGather(is, dt, false)
			genGather(is, dt, true)
		}
	}
	for _, is := range isas {
		for _, dt := range dtypes {
			for _, m := range []bagMode{modeSum, modeWSum, modeMax} {
				genBag(is, dt, m)
			}
		}
	}
	Generate()
}

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

func gatherSignature(pos bool) string {
	s := "func(dst []float32, ids []int64, base *byte, stride, rows, dim, rowBytes, pfDist int"
	if pos {
		s += ", pos *byte, posStride, seqLen, phase int"
	}
	return s + ") int"
}

// genGather writes gather<DType>[Pos]<ISA>: for each j, row ids[j] of the
// table at base, decoded to float32 (plus positional row
// (phase+j)%seqLen of the table at pos) into dst[j*dim:(j+1)*dim].
func genGather(is isa, dt dtype, pos bool) {
	name := "gather" + dt.name
	if pos {
		name += "Pos"
	}
	name += is.name
	g := &fn{name: name, is: is, dt: dt}
	TEXT(name, NOSPLIT, gatherSignature(pos))
	what := "gatherChunkRef"
	if pos {
		what += " with a positional table"
	}
	Doc(
		fmt.Sprintf("%s is %s for %s rows, with %s (see gather_generic.go for the", name, what, dt.name, is.name),
		"reference implementation). It prefetches row ids[j+pfDist] while it reads",
		"row ids[j], and returns the index of the first id outside [0, rows), or -1.",
	)
	Pragma("noescape")

	idsEnd, pfEnd, pfOff := AllocLocal(8), AllocLocal(8), AllocLocal(8)
	dimU, dimV, dstStep, paramsOff := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)

	ids := g.idsBounds(idsEnd, pfEnd, pfOff)
	t := GP64()

	dim := ld(Param("dim"))
	if is.avx512() {
		g.setTailMask(dim)
	}
	MOVQ(dim, t)
	ANDQ(I32(-4*is.lanes), t)
	MOVQ(t, dimU)
	MOVQ(dim, t)
	ANDQ(I32(-is.lanes), t)
	MOVQ(t, dimV)
	MOVQ(dim, t)
	SHLQ(U8(2), t)
	MOVQ(t, dstStep)
	if dt == int8 {
		t := ld(Param("rowBytes"))
		SUBQ(U8(8), t)
		MOVQ(t, paramsOff)
	}

	// Warm-up: prefetch the first min(d, n) rows.
	{
		q, qEnd := GP64(), GP64()
		MOVQ(ids, q)
		MOVQ(ids, qEnd)
		ADDQ(pfOff, qEnd)
		CMPQ(qEnd, idsEnd)
		CMOVQHI(idsEnd, qEnd)
		loop, done := g.label("warm"), g.label("warmdone")
		Label(loop)
		CMPQ(q, qEnd)
		JAE(LabelRef(done))
		lo, hi := GP64(), GP64()
		MOVQ(Mem{Base: q}, lo)
		IMULQ(param("stride"), lo)
		ADDQ(param("base"), lo)
		MOVQ(lo, hi)
		ADDQ(param("rowBytes"), hi)
		g.prefetchRange(lo, hi)
		ADDQ(U8(8), q)
		JMP(LabelRef(loop))
		Label(done)
	}

	dst := ld(Param("dst").Base())
	var posRow, posCtr reg.GPVirtual
	if pos {
		posRow = ld(Param("pos"))
		posCtr = ld(Param("phase"))
		t := GP64()
		MOVQ(posCtr, t)
		IMULQ(param("posStride"), t)
		ADDQ(t, posRow)
	}

	rowLoop, rowNext, done, bad := g.label("row"), g.label("next"), g.label("done"), g.label("bad")
	Label(rowLoop)
	CMPQ(ids, idsEnd)
	JAE(LabelRef(done))
	{
		nopf := g.label("nopf")
		CMPQ(ids, pfEnd)
		JAE(LabelRef(nopf))
		lo, hi, off := GP64(), GP64(), GP64()
		MOVQ(pfOff, off)
		MOVQ(Mem{Base: ids, Index: off, Scale: 1}, lo)
		IMULQ(param("stride"), lo)
		ADDQ(param("base"), lo)
		MOVQ(lo, hi)
		ADDQ(param("rowBytes"), hi)
		g.prefetchRange(lo, hi)
		Label(nopf)
	}
	row := GP64()
	MOVQ(Mem{Base: ids}, row)
	CMPQ(row, param("rows"))
	JAE(LabelRef(bad))
	IMULQ(param("stride"), row)
	ADDQ(param("base"), row)

	body := func(special bool) {
		g.int8Special = special
		i := GP64()
		XORQ(i, i)
		es := uint8(dt.size)
		vec := func(s shape, disp int) {
			x := g.load(s, Mem{Base: row, Index: i, Scale: es, Disp: disp * dt.size})
			if pos {
				p := g.loadF32(s, Mem{Base: posRow, Index: i, Scale: 4, Disp: 4 * disp})
				// First source: the positional value, as in addRow.
				add(s, p, x, p)
				x = p
			}
			g.store(s, x, Mem{Base: dst, Index: i, Scale: 4, Disp: 4 * disp})
		}
		full := shape{lanes: is.lanes}
		// Four vectors at a time, then one, then the tail.
		l4, l1, tail := g.label("v4"), g.label("v1"), g.label("tail")
		Label(l4)
		CMPQ(i, dimU)
		JAE(LabelRef(l1))
		for u := range 4 {
			vec(full, u*is.lanes)
		}
		ADDQ(U8(4*is.lanes), i)
		JMP(LabelRef(l4))
		Label(l1)
		CMPQ(i, dimV)
		JAE(LabelRef(tail))
		vec(full, 0)
		ADDQ(U8(is.lanes), i)
		JMP(LabelRef(l1))
		Label(tail)
		if is.avx512() {
			CMPQ(i, param("dim"))
			JAE(LabelRef(rowNext))
			vec(shape{lanes: 16, masked: true}, 0)
		} else {
			// Four lanes if at least four remain, then one at a time.
			scalar := g.label("scalar")
			r := GP64()
			MOVQ(param("dim"), r)
			SUBQ(i, r)
			CMPQ(r, U8(4))
			JB(LabelRef(scalar))
			vec(shape{lanes: 4}, 0)
			ADDQ(U8(4), i)
			Label(scalar)
			CMPQ(i, param("dim"))
			JAE(LabelRef(rowNext))
			vec(shape{lanes: 1}, 0)
			INCQ(i)
			JMP(LabelRef(scalar))
		}
		JMP(LabelRef(rowNext))
	}
	if dt == int8 {
		g.scale, g.bias = is.full(), is.full()
		special := g.label("int8special")
		off := GP64()
		MOVQ(paramsOff, off)
		VBROADCASTSS(Mem{Base: row, Index: off, Scale: 1}, g.scale)
		VBROADCASTSS(Mem{Base: row, Index: off, Scale: 1, Disp: 4}, g.bias)
		e := GP32()
		MOVL(Mem{Base: row, Index: off, Scale: 1}, e)
		ANDL(U32(0x7f800000), e)
		CMPL(e, U32(0x7f800000))
		JEQ(LabelRef(special))
		body(false)
		Label(special)
		body(true)
	} else {
		body(false)
	}

	Label(rowNext)
	ADDQ(dstStep, dst)
	ADDQ(U8(8), ids)
	if pos {
		wrap := g.label("nowrap")
		ADDQ(param("posStride"), posRow)
		INCQ(posCtr)
		CMPQ(posCtr, param("seqLen"))
		JB(LabelRef(wrap))
		XORQ(posCtr, posCtr)
		MOVQ(param("pos"), posRow)
		Label(wrap)
	}
	JMP(LabelRef(rowLoop))

	Label(done)
	r := GP64()
	MOVQ(I32(-1), r)
	Store(r, ReturnIndex(0))
	VZEROUPPER()
	RET()

	Label(bad)
	first := ld(Param("ids").Base())
	SUBQ(first, ids)
	SHRQ(U8(3), ids)
	Store(ids, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

type bagMode int

const (
	modeSum bagMode = iota
	modeWSum
	modeMax
)

func (m bagMode) String() string {
	return [...]string{"Sum", "WSum", "Max"}[m]
}

func bagSignature(m bagMode) string {
	s := "func(out []float32, ids []int64, "
	if m == modeWSum {
		s += "weights []float32, "
	}
	return s + "base *byte, stride, rows, dim, rowBytes, pfDist int, pad int64) int"
}

// A block is a bag pass over a run of columns whose accumulators stay in
// registers.
type block struct {
	vectors int
	shape   shape
}

// genBag writes bag<DType><Mode><ISA>: it pools the rows of ids (skipping
// those equal to pad) into out, the bag's running sum or maximum, walking
// the ids once per column block.
func genBag(is isa, dt dtype, mode bagMode) {
	name := "bag" + dt.name + mode.String() + is.name
	g := &fn{name: name, is: is, dt: dt}
	TEXT(name, NOSPLIT, bagSignature(mode))
	what := map[bagMode]string{modeSum: "sum", modeWSum: "weighted sum", modeMax: "maximum"}[mode]
	Doc(
		fmt.Sprintf("%s is bagChunkRef's %s for %s rows, with %s (see", name, what, dt.name, is.name),
		"gather_generic.go for the reference implementation). It keeps a block of",
		"columns of out in registers while it walks the ids, prefetching row",
		"ids[j+pfDist], and returns the index of the first id outside [0, rows),",
		"or -1.",
	)
	Pragma("noescape")

	idsEnd, pfEnd, pfOff := AllocLocal(8), AllocLocal(8), AllocLocal(8)
	pfLo, pfHi, c0Local := AllocLocal(8), AllocLocal(8), AllocLocal(8)
	g.badAt = AllocLocal(8)

	g.idsBounds(idsEnd, pfEnd, pfOff)
	if is.avx512() {
		g.setTailMask(ld(Param("dim")))
	}
	{
		z := GP64()
		XORQ(z, z)
		MOVQ(z, c0Local)
	}

	var blocks []block
	for _, v := range is.blocks {
		blocks = append(blocks, block{v, shape{lanes: is.lanes}})
	}
	if is.avx512() {
		blocks = append(blocks, block{1, shape{lanes: 16, masked: true}})
	} else {
		blocks = append(blocks, block{1, shape{lanes: 4}}, block{3, shape{lanes: 1}}, block{2, shape{lanes: 1}}, block{1, shape{lanes: 1}})
	}

	dispatch, done, bad := g.label("dispatch"), g.label("done"), g.label("bad")
	Label(dispatch)
	labels := make([]string, len(blocks))
	{
		rem := ld(Param("dim"))
		SUBQ(c0Local, rem)
		JEQ(LabelRef(done))
		for b, bl := range blocks {
			labels[b] = g.label(fmt.Sprintf("block%dx%d", bl.vectors, bl.shape.lanes))
			if b == len(blocks)-1 {
				// The smallest block takes whatever remains.
				JMP(LabelRef(labels[b]))
				break
			}
			CMPQ(rem, U32(bl.vectors*bl.shape.lanes))
			JAE(LabelRef(labels[b]))
		}
	}
	for b, bl := range blocks {
		Label(labels[b])
		g.bagBlock(mode, bl, labels[b], dispatch, bad, idsEnd, pfEnd, pfOff, pfLo, pfHi, c0Local)
	}

	Label(done)
	r := GP64()
	MOVQ(I32(-1), r)
	Store(r, ReturnIndex(0))
	VZEROUPPER()
	RET()

	Label(bad)
	p := ld(Param("ids").Base())
	q := GP64()
	MOVQ(g.badAt, q) // the failing position, saved by bagBlock
	SUBQ(p, q)
	SHRQ(U8(3), q)
	Store(q, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// bagBlock writes one column block's walk over the ids, then jumps back to
// dispatch with the block's columns done.
func (g *fn) bagBlock(mode bagMode, bl block, prefix, dispatch, bad string, idsEnd, pfEnd, pfOff, pfLo, pfHi, c0Local Mem) {
	dt, s := g.dt, bl.shape
	es := uint8(dt.size)
	width := bl.vectors * s.lanes // columns in this block (at most)

	c0 := GP64()
	MOVQ(c0Local, c0)
	out := ld(Param("out").Base())
	LEAQ(Mem{Base: out, Index: c0, Scale: 4}, out)
	acc := make([]reg.VecVirtual, bl.vectors)
	for v := range acc {
		acc[v] = g.loadF32(s, Mem{Base: out, Disp: 4 * v * s.lanes})
	}
	// Prefetch range of this block within a row: [c0*es, min((c0+width)*es,
	// rowBytes)), and, for int8, the line of the scale and bias.
	{
		lo, hi, t := GP64(), GP64(), GP64()
		MOVQ(c0, lo)
		LEAQ(Mem{Base: c0, Disp: width}, hi)
		if sh := log2(dt.size); sh > 0 {
			SHLQ(U8(sh), lo)
			SHLQ(U8(sh), hi)
		}
		MOVQ(lo, pfLo)
		MOVQ(param("rowBytes"), t)
		CMPQ(hi, t)
		CMOVQHI(t, hi)
		MOVQ(hi, pfHi)
	}
	pfRow := func(rowID Mem) {
		lo, hi := GP64(), GP64()
		MOVQ(rowID, lo)
		IMULQ(param("stride"), lo)
		ADDQ(param("base"), lo)
		if dt == int8 {
			p := GP64()
			MOVQ(lo, p)
			ADDQ(param("rowBytes"), p)
			PREFETCHT0(Mem{Base: p, Disp: -8})
		}
		MOVQ(lo, hi)
		ADDQ(pfLo, lo)
		ADDQ(pfHi, hi)
		g.prefetchRange(lo, hi)
	}
	ids := ld(Param("ids").Base())
	{
		q, qEnd := GP64(), GP64()
		MOVQ(ids, q)
		MOVQ(ids, qEnd)
		ADDQ(pfOff, qEnd)
		CMPQ(qEnd, idsEnd)
		CMOVQHI(idsEnd, qEnd)
		loop, warmDone := g.label("warm"), g.label("warmdone")
		Label(loop)
		CMPQ(q, qEnd)
		JAE(LabelRef(warmDone))
		pfRow(Mem{Base: q})
		ADDQ(U8(8), q)
		JMP(LabelRef(loop))
		Label(warmDone)
	}
	var wp reg.GPVirtual
	if mode == modeWSum {
		wp = ld(Param("weights").Base())
		g.weight = g.is.full()
	}
	if dt == int8 {
		g.scale, g.bias = g.is.full(), g.is.full()
	}

	loop, next, walked := g.label("walk"), g.label("skip"), g.label("walked")
	Label(loop)
	CMPQ(ids, idsEnd)
	JAE(LabelRef(walked))
	{
		nopf := g.label("nopf")
		CMPQ(ids, pfEnd)
		JAE(LabelRef(nopf))
		off := GP64()
		MOVQ(pfOff, off)
		pfRow(Mem{Base: ids, Index: off, Scale: 1})
		Label(nopf)
	}
	row := GP64()
	MOVQ(Mem{Base: ids}, row)
	CMPQ(row, param("pad"))
	JEQ(LabelRef(next))
	{
		ok := g.label("inrange")
		CMPQ(row, param("rows"))
		JB(LabelRef(ok))
		MOVQ(ids, g.badAt)
		JMP(LabelRef(bad))
		Label(ok)
	}
	IMULQ(param("stride"), row)
	ADDQ(param("base"), row)

	// Row-wise special cases that need a multiply and an add instead of
	// an FMA, to give the reference's result: an int8 row whose scale is
	// not finite, a weight that is zero or not finite.
	var int8Special, weightSpecial reg.GPVirtual
	if dt == int8 {
		off := GP64()
		MOVQ(param("rowBytes"), off)
		SUBQ(U8(8), off)
		VBROADCASTSS(Mem{Base: row, Index: off, Scale: 1}, g.scale)
		VBROADCASTSS(Mem{Base: row, Index: off, Scale: 1, Disp: 4}, g.bias)
		e := GP32()
		MOVL(Mem{Base: row, Index: off, Scale: 1}, e)
		ANDL(U32(0x7f800000), e)
		int8Special = GP64()
		XORQ(int8Special, int8Special)
		CMPL(e, U32(0x7f800000))
		SETEQ(int8Special.As8())
	}
	if mode == modeWSum {
		VBROADCASTSS(Mem{Base: wp}, g.weight)
		w := GP32()
		MOVL(Mem{Base: wp}, w)
		weightSpecial = GP64()
		MOVQ(U32(1), weightSpecial)
		ANDL(U32(0x7fffffff), w)
		zero := g.label("wzero")
		JEQ(LabelRef(zero))
		XORQ(weightSpecial, weightSpecial)
		CMPL(w, U32(0x7f800000))
		SETCC(weightSpecial.As8())
		Label(zero)
	}

	body := func() {
		for v := range acc {
			x := g.load(s, Mem{Base: row, Index: c0, Scale: es, Disp: v * s.lanes * dt.size})
			switch mode {
			case modeSum:
				// First source: the row value, as in bagChunkRef's compiled
				// out[i] += v.
				add(s, x, acc[v], acc[v])
			case modeMax:
				// acc = acc > x ? acc : x, MAXPS's rule.
				if s.lanes == 1 {
					VMAXSS(x, acc[v], acc[v])
				} else {
					VMAXPS(x, acc[v], acc[v])
				}
			case modeWSum:
				w := s.narrow(g.weight)
				if g.weightSpecial {
					// weight*x is exact when the weight is 0 or not
					// finite; first sources: the weight, then the product.
					p := s.vec()
					if s.lanes == 1 {
						VMULSS(x, w, p)
					} else {
						VMULPS(x, w, p)
					}
					add(s, p, acc[v], acc[v])
				} else if s.lanes == 1 {
					VFMADD231SS(x, w, acc[v])
				} else {
					VFMADD231PS(x, w, acc[v])
				}
			}
		}
		JMP(LabelRef(next))
	}
	// One body per combination of special cases, the common one first.
	type variant struct{ int8Special, weightSpecial bool }
	variants := []variant{{false, false}}
	if dt == int8 {
		variants = append(variants, variant{true, false})
	}
	if mode == modeWSum {
		for _, v := range variants {
			variants = append(variants, variant{v.int8Special, true})
		}
	}
	vlabels := make([]string, len(variants))
	for k := range variants {
		vlabels[k] = g.label("body")
	}
	if len(variants) > 1 {
		sel := GP64()
		XORQ(sel, sel)
		if int8Special != nil {
			MOVQ(int8Special, sel)
		}
		if weightSpecial != nil {
			LEAQ(Mem{Base: sel, Index: weightSpecial, Scale: 2}, sel)
		}
		for k, v := range variants[1:] {
			code := 0
			if v.int8Special {
				code |= 1
			}
			if v.weightSpecial {
				code |= 2
			}
			CMPQ(sel, U8(code))
			JEQ(LabelRef(vlabels[k+1]))
		}
	}
	for k, v := range variants {
		Label(vlabels[k])
		g.int8Special, g.weightSpecial = v.int8Special, v.weightSpecial
		body()
	}

	Label(next)
	ADDQ(U8(8), ids)
	if mode == modeWSum {
		ADDQ(U8(4), wp)
	}
	JMP(LabelRef(loop))

	Label(walked)
	for v := range acc {
		g.store(s, acc[v], Mem{Base: out, Disp: 4 * v * s.lanes})
	}
	if s.masked {
		// The tail is the last block.
		c := ld(Param("dim"))
		MOVQ(c, c0Local)
	} else {
		ADDQ(U32(width), c0)
		MOVQ(c0, c0Local)
	}
	JMP(LabelRef(dispatch))
}

// ld loads a parameter into a new 64-bit register.
func ld(c gotypes.Component) reg.GPVirtual {
	r := GP64()
	Load(c, r)
	return r
}
