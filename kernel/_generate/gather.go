package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// genGathers writes every gather: each instruction set, each dtype,
// without and with positional rows.
func genGathers() {
	for _, is := range isas {
		for _, dt := range dtypes {
			genGather(is, dt, false)
			genGather(is, dt, true)
		}
	}
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
