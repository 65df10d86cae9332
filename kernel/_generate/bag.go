package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// genBags writes every bag pooling: each instruction set, each dtype, each
// mode.
func genBags() {
	for _, is := range isas {
		for _, dt := range dtypes {
			for _, m := range []bagMode{modeSum, modeWSum, modeMax} {
				genBag(is, dt, m)
			}
		}
	}
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
	bg := &bagGen{fn: g, mode: mode, idsEnd: idsEnd, pfEnd: pfEnd, pfOff: pfOff, pfLo: pfLo, pfHi: pfHi, c0Local: c0Local,
		dispatch: dispatch, bad: bad}
	for b, bl := range blocks {
		Label(labels[b])
		bg.block(bl)
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
	MOVQ(g.badAt, q) // the failing position, saved by bagGen.block
	SUBQ(p, q)
	SHRQ(U8(3), q)
	Store(q, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// A bagGen is the state of one bag function being generated, shared by
// its column blocks: the mode, the locals the function keeps on its
// frame, and the labels blocks jump to.
type bagGen struct {
	*fn
	mode bagMode
	// Frame locals: the end of ids and where prefetching stops (see
	// idsBounds), the prefetch distance in bytes of ids, the byte range of
	// the current block within a row to prefetch, and the first column of
	// the current block.
	idsEnd, pfEnd, pfOff, pfLo, pfHi, c0Local Mem
	dispatch                                  string // the label that picks the next block
	bad                                       string // the label that returns the failing id's index
}

// block writes one column block's walk over the ids, then jumps back to
// dispatch with the block's columns done.
func (g *bagGen) block(bl block) {
	mode, dispatch, bad := g.mode, g.dispatch, g.bad
	idsEnd, pfEnd, pfOff, pfLo, pfHi, c0Local := g.idsEnd, g.pfEnd, g.pfOff, g.pfLo, g.pfHi, g.c0Local
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
	{
		// The bounds first: an id outside the table is reported even if
		// it equals pad (a pad outside the table means none).
		ok := g.label("inrange")
		CMPQ(row, param("rows"))
		JB(LabelRef(ok))
		MOVQ(ids, g.badAt)
		JMP(LabelRef(bad))
		Label(ok)
	}
	CMPQ(row, param("pad"))
	JEQ(LabelRef(next))
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
				// acc = x > acc ? x : acc: MAXPS returns its second
				// source unless the first is greater, NaN included, so
				// with the row value first the maximum so far is kept
				// unless the value is strictly greater: torch's rule
				// (bagChunkRef's v > out[i]).
				if s.lanes == 1 {
					VMAXSS(acc[v], x, acc[v])
				} else {
					VMAXPS(acc[v], x, acc[v])
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
