package main

// The dot-product kernels of package kernel (nearest-neighbour search):
// ../dot_amd64.s and their Go declarations, ../dot_stubs_amd64.go, written
// with an avo build context of their own so that they live in files of
// their own. main calls generateDot.
//
// Every kernel must give the bits of the reference, dotRowsRef in
// ../dot.go, NaN payloads aside: each dot product accumulates 16 partial
// sums (value j into sum j mod 16, in ascending j, each step one fused
// multiply-add), then adds them pairwise, s[l] += s[l+h] for h = 8, 4, 2,
// 1. An AVX-512 accumulator is one 16-lane register; an AVX2 accumulator
// is two 8-lane registers (lanes 0-7 and 8-15), whose first reduction step
// adds the two.
//
// A kernel computes the dot products of n rows with one group of nq
// queries (1, 2, 4 or 8) and, in its Norms variant, the rows' squared
// norms too. It walks the rows in tiles of R rows (as many as the
// registers allow: R*nq accumulators, R norm accumulators, R row vectors),
// then one row at a time. Within a tile, every 16-value chunk of the rows is
// loaded (and decoded) once and multiplied with every query of the group.
// The tile's sums are reduced together by a transpose network (pairs of
// accumulators shuffled so that one add serves two of them) and stored.

import (
	"fmt"
	"log"
	"os"
	"regexp"
	"strings"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
	"github.com/mmcloughlin/avo/reg"
)

// generateDot writes ../dot_amd64.s and ../dot_stubs_amd64.go.
func generateDot() {
	g := &dotGen{c: build.NewContext(), perms: map[string]operand.Mem{}}
	g.c.ConstraintExpr("amd64,gc,!noasm")
	g.maskTable()
	for _, is := range dotISAs {
		for _, dt := range dotDTypes {
			for _, nq := range is.queries {
				for _, norms := range []bool{false, true} {
					g.function(is, dt, nq, norms)
				}
			}
		}
	}
	g.write("../dot_amd64.s", "../dot_stubs_amd64.go")
}

// A dotISA is an instruction set the kernels are written for.
type dotISA struct {
	name    string
	lanes   int   // float32 lanes of a vector register
	regs    int   // vector registers
	queries []int // query group sizes, largest first
}

var dotISAs = []dotISA{
	{name: "AVX2", lanes: 8, regs: 16, queries: []int{4, 2, 1}},
	{name: "AVX512", lanes: 16, regs: 32, queries: []int{8, 4, 2, 1}},
}

func (is dotISA) avx512() bool { return is.lanes == 16 }

// parts is the number of registers of one 16-lane accumulator.
func (is dotISA) parts() int { return 16 / is.lanes }

func (is dotISA) vec(c *build.Context) reg.VecVirtual {
	if is.avx512() {
		return c.ZMM()
	}
	return c.YMM()
}

// A dotDType is a row encoding (the format specification's "Rows").
type dotDType struct {
	name string
	size int // bytes per value
}

var dotDTypes = []dotDType{{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"Int8", 1}}

// tileRows returns the rows of a tile: the most (8, 4, 2 or 1) whose
// accumulators, row vectors, query vector and two temporaries fit in the
// vector registers.
func tileRows(is dotISA, nq int, norms bool) int {
	for _, r := range []int{8, 4, 2} {
		accs := r * nq
		if norms {
			accs += r
		}
		if accs*is.parts()+r+1+2 <= is.regs && r*nq <= 16 {
			return r
		}
	}
	return 1
}

const dotSignature = "func(dst *float32, ldq int, sq *float32, base *byte, stride, n, dim int, q *float32, qcs, pf int)"

type dotGen struct {
	c     *build.Context
	mask  operand.Mem            // 8 dwords of all ones, then 8 of zeros
	perms map[string]operand.Mem // lane permutations, by content
	avx2  []string               // names of the AVX2 functions
}

// maskTable writes the table the AVX2 tails take their masks from: the
// first m dwords set is the 32 bytes at 4*(8-m).
func (g *dotGen) maskTable() {
	g.mask = g.c.StaticGlobal("dotmask")
	g.c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		g.c.AddDatum(4*i, operand.U32(v))
	}
}

// perm returns a constant holding the lane indices idx (a VPERMPS index).
func (g *dotGen) perm(idx []int) operand.Mem {
	key := fmt.Sprint(idx)
	if m, ok := g.perms[key]; ok {
		return m
	}
	m := g.c.StaticGlobal(fmt.Sprintf("dotperm%d", len(g.perms)))
	g.c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i, v := range idx {
		g.c.AddDatum(4*i, operand.U32(uint32(v)))
	}
	g.perms[key] = m
	return m
}

// dotFn holds the state of the function being generated.
type dotFn struct {
	*dotGen
	name   string
	is     dotISA
	dt     dotDType
	nq     int
	norms  bool
	labels int
	k      reg.OpmaskVirtual // AVX-512: the lanes of the last, partial chunk
	// Locals.
	full, tail, i, ldqB, paramsOff operand.Mem
	loadMask, laneMask             [2]operand.Mem // AVX2 tail halves
	scale, bias                    operand.Mem    // int8: per row of a tile
}

func (f *dotFn) label(what string) string {
	f.labels++
	return fmt.Sprintf("%s_%s%d", f.name, what, f.labels)
}

func (f *dotFn) param(name string) operand.Mem {
	b, err := f.c.Param(name).Resolve()
	if err != nil {
		log.Fatal(err)
	}
	return b.Addr
}

func (f *dotFn) ld(name string) reg.GPVirtual {
	r := f.c.GP64()
	f.c.Load(f.c.Param(name), r)
	return r
}

func (g *dotGen) function(is dotISA, dt dotDType, nq int, norms bool) {
	c := g.c
	name := fmt.Sprintf("dot%sQ%d", dt.name, nq)
	if norms {
		name += "Norms"
	}
	name += is.name
	if !is.avx512() {
		g.avx2 = append(g.avx2, name)
	}
	f := &dotFn{dotGen: g, name: name, is: is, dt: dt, nq: nq, norms: norms}
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr(dotSignature)
	what := ""
	if norms {
		what = " and their squared norms (into sq)"
	}
	c.Doc(
		fmt.Sprintf("%s is dotRowsRef for %s rows and a group of %d queries, with %s:", name, dt.name, nq, is.name),
		"the dot products of rows base, base+stride, ... (n rows of dim values) with the",
		fmt.Sprintf("queries at q (chunk c of query k at q + c*qcs + 64*k) into dst[k*ldq+r]%s.", what),
	)
	c.Pragma("noescape")

	f.full, f.tail, f.i, f.ldqB = c.AllocLocal(8), c.AllocLocal(8), c.AllocLocal(8), c.AllocLocal(8)
	dim := f.ld("dim")
	t := c.GP64()
	c.MOVQ(dim, t)
	c.SHRQ(operand.U8(4), t)
	c.MOVQ(t, f.full)
	c.ANDQ(operand.U8(15), dim)
	c.MOVQ(dim, f.tail)
	if is.avx512() {
		// k = the low tail lanes.
		f.k = c.K()
		m := c.GP64()
		c.MOVQ(dim, reg.RCX)
		c.MOVQ(operand.U32(1), m)
		c.SHLQ(reg.CL, m)
		c.DECQ(m)
		c.KMOVW(m.As32(), f.k)
	} else {
		f.avx2Masks(dim)
	}
	if dt.name == "Int8" {
		f.paramsOff = c.AllocLocal(8)
		p := f.ld("dim")
		c.ADDQ(operand.U8(3), p)
		c.ANDQ(operand.I8(-4), p)
		c.MOVQ(p, f.paramsOff)
		r := tileRows(is, nq, norms)
		f.scale = c.AllocLocal((4*r + 7) &^ 7) // frames are whole words
		if is.avx512() {
			f.bias = c.AllocLocal((4*r + 7) &^ 7)
		} else {
			f.bias = c.AllocLocal(32 * r)
		}
	}
	l := f.ld("ldq")
	c.SHLQ(operand.U8(2), l)
	c.MOVQ(l, f.ldqB)
	z := c.GP64()
	c.XORQ(z, z)
	c.MOVQ(z, f.i)

	done := f.label("done")
	rows := tileRows(is, nq, norms)
	next := f.label("single")
	f.tile(rows, next)
	c.Label(next)
	if rows > 1 {
		f.tile(1, done)
	}
	c.Label(done)
	c.VZEROUPPER()
	c.RET()
}

// avx2Masks stores the masks of the two 8-lane halves of the last, partial
// chunk: which dwords to load (VMASKMOVPS) and which lanes to keep.
func (f *dotFn) avx2Masks(tail reg.GPVirtual) {
	c := f.c
	tab := c.GP64()
	c.LEAQ(f.mask, tab)
	for h := range 2 {
		f.loadMask[h], f.laneMask[h] = c.AllocLocal(32), c.AllocLocal(32)
		// m = lanes of this half: min(8, max(0, tail-8h)).
		m := c.GP64()
		c.MOVQ(tail, m)
		if h == 1 {
			zero := c.GP64()
			c.XORQ(zero, zero)
			c.SUBQ(operand.U8(8), m)
			c.CMOVQLT(zero, m)
		} else {
			eight := c.GP64()
			c.MOVQ(operand.U32(8), eight)
			c.CMPQ(m, operand.U8(8))
			c.CMOVQGT(eight, m)
		}
		at := func(dwords reg.GPVirtual) operand.Mem {
			off := c.GP64()
			c.MOVQ(operand.U32(8), off)
			c.SUBQ(dwords, off)
			return operand.Mem{Base: tab, Index: off, Scale: 4}
		}
		v := c.YMM()
		c.VMOVDQU(at(m), v)
		c.VMOVDQU(v, f.laneMask[h])
		d := c.GP64()
		c.MOVQ(m, d)
		switch f.dt.size {
		case 2: // ceil(m/2) dwords
			c.INCQ(d)
			c.SHRQ(operand.U8(1), d)
		case 1: // ceil(m/4)
			c.ADDQ(operand.U8(3), d)
			c.SHRQ(operand.U8(2), d)
		}
		w := c.YMM()
		c.VMOVDQU(at(d), w)
		c.VMOVDQU(w, f.loadMask[h])
	}
}

// tileState holds the registers of one tile's walk.
type tileState struct {
	rows     int
	p0, p4   reg.GPVirtual // rows 0-3 at p0 + r*stride, rows 4-7 at p4
	f0, f4   reg.GPVirtual // p0 and p4 plus the prefetch distance
	s1, s3   reg.GPVirtual // stride, 3*stride
	qp       reg.GPVirtual
	acc      [][][]reg.VecVirtual // [row][query][part]
	nacc     [][]reg.VecVirtual   // [row][part]
	partials bool                 // the chunk is the last, partial one
}

// rowAddr returns the address of row r of the tile plus disp bytes.
func (s *tileState) rowAddr(r, disp int) operand.Mem { return s.addr(s.p0, s.p4, r, disp) }

// pfAddr returns the address of row r of the tile plus disp bytes plus the
// prefetch distance.
func (s *tileState) pfAddr(r, disp int) operand.Mem { return s.addr(s.f0, s.f4, r, disp) }

func (s *tileState) addr(p0, p4 reg.GPVirtual, r, disp int) operand.Mem {
	base := p0
	if r >= 4 {
		base, r = p4, r-4
	}
	switch r {
	case 0:
		return operand.Mem{Base: base, Disp: disp}
	case 1, 2:
		return operand.Mem{Base: base, Index: s.s1, Scale: uint8(r), Disp: disp}
	}
	return operand.Mem{Base: base, Index: s.s3, Scale: 1, Disp: disp}
}

// tile writes the loop over tiles of rows rows, which jumps to next when
// fewer than rows rows remain.
func (f *dotFn) tile(rows int, next string) {
	c, is := f.c, f.is
	s := &tileState{rows: rows}
	loop := f.label(fmt.Sprintf("tile%d", rows))
	c.Label(loop)
	{
		rem := f.ld("n")
		c.SUBQ(f.i, rem)
		c.CMPQ(rem, operand.U8(rows))
		c.JB(operand.LabelRef(next))
	}
	s.p0 = c.GP64()
	c.MOVQ(f.i, s.p0)
	c.IMULQ(f.param("stride"), s.p0)
	c.ADDQ(f.param("base"), s.p0)
	if rows > 1 {
		s.s1 = f.ld("stride")
	}
	if rows >= 4 {
		s.s3 = c.GP64()
		c.LEAQ(operand.Mem{Base: s.s1, Index: s.s1, Scale: 2}, s.s3)
	}
	if rows == 8 {
		s.p4 = c.GP64()
		c.LEAQ(operand.Mem{Base: s.p0, Index: s.s1, Scale: 4}, s.p4)
	}
	// The rows pf bytes on are prefetched while these are read.
	s.f0 = c.GP64()
	c.MOVQ(s.p0, s.f0)
	c.ADDQ(f.param("pf"), s.f0)
	if rows == 8 {
		s.f4 = c.GP64()
		c.MOVQ(s.p4, s.f4)
		c.ADDQ(f.param("pf"), s.f4)
	}
	if f.dt.name == "Int8" {
		// Each row's scale and bias, where the chunk loop can read them
		// (broadcast) without a register per row.
		off := c.GP64()
		c.MOVQ(f.paramsOff, off)
		for r := range rows {
			a := s.rowAddr(r, 0)
			p := c.GP64()
			c.LEAQ(a, p)
			t := c.GP32()
			c.MOVL(operand.Mem{Base: p, Index: off, Scale: 1}, t)
			c.MOVL(t, f.scale.Offset(4*r))
			if is.avx512() {
				c.MOVL(operand.Mem{Base: p, Index: off, Scale: 1, Disp: 4}, t)
				c.MOVL(t, f.bias.Offset(4*r))
			} else {
				v := c.YMM()
				c.VBROADCASTSS(operand.Mem{Base: p, Index: off, Scale: 1, Disp: 4}, v)
				c.VMOVUPS(v, f.bias.Offset(32*r))
			}
		}
	}
	zero := func() reg.VecVirtual {
		v := is.vec(c)
		c.VXORPS(v, v, v)
		return v
	}
	s.acc = make([][][]reg.VecVirtual, rows)
	s.nacc = make([][]reg.VecVirtual, rows)
	for r := range rows {
		s.acc[r] = make([][]reg.VecVirtual, f.nq)
		for q := range f.nq {
			for range is.parts() {
				s.acc[r][q] = append(s.acc[r][q], zero())
			}
		}
		if f.norms {
			for range is.parts() {
				s.nacc[r] = append(s.nacc[r], zero())
			}
		}
	}
	s.qp = f.ld("q")
	cnt := c.GP64()
	c.MOVQ(f.full, cnt)
	chunk, tail, reduce := f.label("chunk"), f.label("tail"), f.label("reduce")
	c.Label(chunk)
	c.TESTQ(cnt, cnt)
	c.JZ(operand.LabelRef(tail))
	f.chunk(s)
	c.ADDQ(operand.U8(16*f.dt.size), s.p0)
	c.ADDQ(operand.U8(16*f.dt.size), s.f0)
	if rows == 8 {
		c.ADDQ(operand.U8(16*f.dt.size), s.p4)
		c.ADDQ(operand.U8(16*f.dt.size), s.f4)
	}
	c.ADDQ(f.param("qcs"), s.qp)
	c.DECQ(cnt)
	c.JMP(operand.LabelRef(chunk))

	c.Label(tail)
	{
		t := c.GP64()
		c.MOVQ(f.tail, t)
		c.TESTQ(t, t)
		c.JZ(operand.LabelRef(reduce))
	}
	s.partials = true
	f.chunk(s)
	s.partials = false

	c.Label(reduce)
	f.reduceAndStore(s)
	{
		i := c.GP64()
		c.MOVQ(f.i, i)
		c.ADDQ(operand.U8(rows), i)
		c.MOVQ(i, f.i)
	}
	c.JMP(operand.LabelRef(loop))
}

// chunk multiplies one 16-value chunk of the tile's rows with the queries
// and accumulates.
func (f *dotFn) chunk(s *tileState) {
	c, is := f.c, f.is
	if !s.partials {
		// One line of each row pf bytes on: the chunk's 16 values of f32
		// rows, and more than the chunk's bytes of narrower dtypes.
		for r := range s.rows {
			c.PREFETCHT0(s.pfAddr(r, 0))
		}
	}
	for h := range is.parts() {
		x := make([]reg.VecVirtual, s.rows)
		for r := range s.rows {
			x[r] = f.load(s, r, h)
		}
		if f.norms {
			for r := range s.rows {
				c.VFMADD231PS(x[r], x[r], s.nacc[r][h])
			}
		}
		for q := range f.nq {
			qv := is.vec(c)
			c.VMOVUPS(operand.Mem{Base: s.qp, Disp: 64*q + 32*h}, qv)
			for r := range s.rows {
				// acc = x*q + acc, one rounding.
				c.VFMADD231PS(qv, x[r], s.acc[r][q][h])
			}
		}
	}
}

// load reads part h (values 8h to 8h+7 of the chunk with AVX2; the whole
// chunk with AVX-512) of row r of the tile as float32, exactly as
// format.DecodeRow does; lanes past the row's last value are +0.
func (f *dotFn) load(s *tileState, r, h int) reg.VecVirtual {
	c, is, dt := f.c, f.is, f.dt
	m := s.rowAddr(r, h*8*dt.size)
	x := is.vec(c)
	if is.avx512() {
		k := f.k
		switch dt.name {
		case "F32":
			if s.partials {
				c.VMOVUPS_Z(m, k, x)
			} else {
				c.VMOVUPS(m, x)
			}
		case "F16":
			if s.partials {
				c.VCVTPH2PS_Z(m, k, x)
			} else {
				c.VCVTPH2PS(m, x)
			}
		case "BF16":
			if s.partials {
				c.VPMOVZXWD_Z(m, k, x)
			} else {
				c.VPMOVZXWD(m, x)
			}
			c.VPSLLD(operand.U8(16), x, x)
		case "Int8":
			if s.partials {
				c.VPMOVZXBD_Z(m, k, x)
			} else {
				c.VPMOVZXBD(m, x)
			}
			c.VCVTDQ2PS(x, x)
			sc := c.ZMM()
			c.VBROADCASTSS(f.scale.Offset(4*r), sc)
			// x = scale*x + bias, one rounding; zeroed past the row.
			if s.partials {
				c.VFMADD213PS_BCST_Z(f.bias.Offset(4*r), sc, k, x)
			} else {
				c.VFMADD213PS_BCST(f.bias.Offset(4*r), sc, x)
			}
		}
		return x
	}
	// AVX2.
	if s.partials {
		mk := c.YMM()
		if dt.name == "F32" {
			c.VMOVDQU(f.loadMask[h], mk)
			c.VMASKMOVPS(m, mk, x)
			return x
		}
		c.VMOVDQU(f.loadMask[h], mk.AsX())
		t := c.XMM()
		c.VMASKMOVPS(m, mk.AsX(), t)
		f.widen(t, x, r)
		c.VANDPS(f.laneMask[h], x, x)
		return x
	}
	if dt.name == "F32" {
		c.VMOVUPS(m, x)
		return x
	}
	f.widen(m, x, r)
	return x
}

// widen converts 8 values of the dtype at src (memory or the low part of a
// register) to float32 in the YMM register x (AVX2).
func (f *dotFn) widen(src operand.Op, x reg.VecVirtual, r int) {
	c := f.c
	switch f.dt.name {
	case "F16":
		c.VCVTPH2PS(src, x)
	case "BF16":
		c.VPMOVZXWD(src, x)
		c.VPSLLD(operand.U8(16), x, x)
	case "Int8":
		c.VPMOVZXBD(src, x)
		c.VCVTDQ2PS(x, x)
		sc := c.YMM()
		c.VBROADCASTSS(f.scale.Offset(4*r), sc)
		c.VFMADD213PS(f.bias.Offset(32*r), sc, x) // x = scale*x + bias
	}
}

// A treeVec is a register of partial sums in a reduction: units[u] is the
// result (an index into the tile's list) whose partial sums occupy unit u,
// units being lanes/len(units) lanes wide.
type treeVec struct {
	v     reg.VecVirtual
	units []int
}

// reduceTree reduces the 16-lane accumulators accs (parts registers each)
// to their sums and returns one register per 16 (AVX-512) or 8 (AVX2)
// results, holding result i of its group in lane i.
func (f *dotFn) reduceTree(accs [][]reg.VecVirtual) []reg.VecVirtual {
	c, is := f.c, f.is
	var vs []treeVec
	for i, a := range accs {
		v := a[0]
		if !is.avx512() {
			// h = 8: lanes 0-7 plus lanes 8-15.
			c.VADDPS(a[1], a[0], a[0])
		}
		vs = append(vs, treeVec{v: v, units: []int{i}})
	}
	// Each level pairs the registers (the last with itself if their number
	// is odd) and adds the partial sums h lanes apart.
	type level struct {
		shuffle     func(lo, hi, a, b reg.VecVirtual)
		arrangement func(a, b []int) []int
	}
	half := func(a, b []int) []int { return append(append([]int(nil), a...), b...) }
	interleave := func(a, b []int) []int {
		// Per 128-bit lane k: a's unit k, then b's.
		var u []int
		for k := range a {
			u = append(u, a[k], b[k])
		}
		return u
	}
	pairs := func(a, b []int) []int {
		// Per 128-bit lane k: a's units 2k and 2k+1, then b's.
		var u []int
		for k := 0; k < len(a); k += 2 {
			u = append(u, a[k], a[k+1], b[k], b[k+1])
		}
		return u
	}
	var levels []level
	if is.avx512() {
		levels = append(levels,
			level{func(lo, hi, a, b reg.VecVirtual) { // h = 8
				c.VSHUFF32X4(operand.U8(0x44), b, a, lo) // a.0 a.1 b.0 b.1 (128-bit lanes)
				c.VSHUFF32X4(operand.U8(0xee), b, a, hi) // a.2 a.3 b.2 b.3
			}, half},
			level{func(lo, hi, a, b reg.VecVirtual) { // h = 4
				c.VSHUFF32X4(operand.U8(0x88), b, a, lo) // a.0 a.2 b.0 b.2
				c.VSHUFF32X4(operand.U8(0xdd), b, a, hi) // a.1 a.3 b.1 b.3
			}, half})
	} else {
		levels = append(levels, level{func(lo, hi, a, b reg.VecVirtual) { // h = 4
			c.VPERM2F128(operand.U8(0x20), b, a, lo) // a.0 b.0
			c.VPERM2F128(operand.U8(0x31), b, a, hi) // a.1 b.1
		}, half})
	}
	levels = append(levels,
		level{func(lo, hi, a, b reg.VecVirtual) { // h = 2
			c.VSHUFPS(operand.U8(0x44), b, a, lo) // per 128-bit lane: a0 a1 b0 b1
			c.VSHUFPS(operand.U8(0xee), b, a, hi) // a2 a3 b2 b3
		}, interleave},
		level{func(lo, hi, a, b reg.VecVirtual) { // h = 1
			c.VSHUFPS(operand.U8(0x88), b, a, lo) // a0 a2 b0 b2
			c.VSHUFPS(operand.U8(0xdd), b, a, hi) // a1 a3 b1 b3
		}, pairs})
	for _, lv := range levels {
		var out []treeVec
		for p := 0; p < len(vs); p += 2 {
			a, b := vs[p], vs[p]
			if p+1 < len(vs) {
				b = vs[p+1]
			}
			lo, hi := is.vec(c), is.vec(c)
			lv.shuffle(lo, hi, a.v, b.v)
			c.VADDPS(hi, lo, lo)
			out = append(out, treeVec{v: lo, units: lv.arrangement(a.units, b.units)})
		}
		vs = out
	}
	// Put result i of each register in lane i.
	var res []reg.VecVirtual
	for g, tv := range vs {
		idx := make([]int, is.lanes)
		for i := range idx {
			want := g*is.lanes + i
			idx[i] = 0
			for lane, u := range tv.units {
				if u == want {
					idx[i] = lane
					break
				}
			}
		}
		identity := true
		for i, v := range idx {
			identity = identity && i == v
		}
		if !identity {
			p := is.vec(c)
			c.VMOVUPS(f.perm(idx), p)
			c.VPERMPS(tv.v, p, tv.v)
		}
		res = append(res, tv.v)
	}
	return res
}

// reduceAndStore reduces the tile's accumulators and stores the sums: the
// dot products of query k at dst + 4*(k*ldq + i) (the tile's rows in
// order), the squared norms at sq + 4*i.
func (f *dotFn) reduceAndStore(s *tileState) {
	c := f.c
	// Results q*rows + r: the dot products, query by query; then
	// rows*nq + r: the squared norms.
	var accs [][]reg.VecVirtual
	for q := range f.nq {
		for r := range s.rows {
			accs = append(accs, s.acc[r][q])
		}
	}
	if f.norms {
		for r := range s.rows {
			accs = append(accs, s.nacc[r])
		}
	}
	res := f.reduceTree(accs)
	i := c.GP64()
	c.MOVQ(f.i, i)
	d := f.ld("dst")
	c.LEAQ(operand.Mem{Base: d, Index: i, Scale: 4}, d)
	l1 := c.GP64()
	c.MOVQ(f.ldqB, l1)
	var l3, d4 reg.GPVirtual
	if f.nq >= 4 {
		l3 = c.GP64()
		c.LEAQ(operand.Mem{Base: l1, Index: l1, Scale: 2}, l3)
	}
	if f.nq == 8 {
		d4 = c.GP64()
		c.LEAQ(operand.Mem{Base: d, Index: l1, Scale: 4}, d4)
	}
	// Query k's row of dst: k*ldq*4 bytes on, with scaled indices.
	queryAddr := func(q int) operand.Mem {
		switch q {
		case 0:
			return operand.Mem{Base: d}
		case 1, 2, 4:
			return operand.Mem{Base: d, Index: l1, Scale: uint8(q)}
		case 3:
			return operand.Mem{Base: d, Index: l3, Scale: 1}
		case 5, 6:
			return operand.Mem{Base: d4, Index: l1, Scale: uint8(q - 4)}
		}
		return operand.Mem{Base: d4, Index: l3, Scale: 1} // 7
	}
	per := f.is.lanes
	for q := range f.nq {
		first := q * s.rows
		f.storeRun(res[first/per], first%per, s.rows, queryAddr(q))
	}
	if f.norms {
		sq := f.ld("sq")
		c.LEAQ(operand.Mem{Base: sq, Index: i, Scale: 4}, sq)
		first := f.nq * s.rows
		f.storeRun(res[first/per], first%per, s.rows, operand.Mem{Base: sq})
	}
}

// storeRun stores lanes first to first+n-1 of v (n a power of two, first a
// multiple of n) at m.
func (f *dotFn) storeRun(v reg.VecVirtual, first, n int, m operand.Mem) {
	c := f.c
	switch n {
	case 8: // AVX-512 only
		if first == 0 {
			c.VMOVUPS(v.AsY(), m)
		} else {
			c.VEXTRACTF32X8(operand.U8(first/8), v, m)
		}
		return
	case 4:
		switch {
		case first == 0:
			c.VMOVUPS(v.AsX(), m)
		case f.is.avx512():
			c.VEXTRACTF32X4(operand.U8(first/4), v, m)
		default:
			c.VEXTRACTF128(operand.U8(first/4), v, m)
		}
		return
	}
	// n = 2 or 1: the 128-bit lane holding them.
	x := v.AsX().(reg.VecVirtual)
	if lane := first / 4; lane != 0 {
		x = f.c.XMM()
		if f.is.avx512() {
			c.VEXTRACTF32X4(operand.U8(lane), v, x)
		} else {
			c.VEXTRACTF128(operand.U8(lane), v, x)
		}
	}
	switch {
	case n == 2 && first%4 == 0:
		c.VMOVLPS(x, m)
	case n == 2:
		c.VMOVHPS(x, m)
	default:
		c.VEXTRACTPS(operand.U8(first%4), x, m)
	}
}

// write compiles the functions and writes the assembly and the stubs, then
// checks that no AVX2 function uses a register only AVX-512 has.
func (g *dotGen) write(asmPath, stubsPath string) {
	f, err := g.c.Result()
	if err != nil {
		log.Fatal(err)
	}
	// A fixed header, whoever runs the generator and however.
	cfg := printer.Config{Name: "kernel/_generate (dot.go)", Pkg: "kernel"}
	asm, err := os.Create(asmPath)
	if err != nil {
		log.Fatal(err)
	}
	stubs, err := os.Create(stubsPath)
	if err != nil {
		log.Fatal(err)
	}
	p := pass.Concat(
		pass.Compile,
		&pass.Output{Writer: asm, Printer: printer.NewGoAsm(cfg)},
		&pass.Output{Writer: stubs, Printer: printer.NewStubs(cfg)},
	)
	if err := p.Execute(f); err != nil {
		log.Fatal(err)
	}
	text, err := os.ReadFile(asmPath)
	if err != nil {
		log.Fatal(err)
	}
	evexOnly := regexp.MustCompile(`\b[XYZ](1[6-9]|2[0-9]|3[01])\b|\bZ[0-9]+\b|\bK[1-7]\b`)
	for _, fn := range strings.Split(string(text), "\nTEXT ")[1:] {
		name := fn[len("·"):strings.Index(fn, "(")]
		for _, a := range g.avx2 {
			if a == name && evexOnly.MatchString(fn) {
				log.Fatalf("%s uses a register that needs AVX-512: %s", name, evexOnly.FindString(fn))
			}
		}
	}
}
