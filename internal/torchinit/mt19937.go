package torchinit

// mt19937 is the 32-bit Mersenne Twister (Matsumoto and Nishimura, 1998) as
// ATen's at::mt19937 implements it (core/MT19937RNGEngine.h): init_genrand
// seeding and the standard tempering, so its output sequence is that of
// std::mt19937 with the same 32-bit seed.
//
// It produces its outputs mtN at a time: each regeneration of the state
// (the "twist") is tempered at once into out, from which uint32 and the bulk
// kernels read. Both steps are one call of the kernel set's mtBlock.
type mt19937 struct {
	state [mtN]uint32
	out   [mtN]uint32 // tempered outputs of state; out[next:] are not used yet
	next  int         // index of the next output in out; mtN means "regenerate"
}

const (
	mtN       = 624
	mtM       = 397
	mtMatrixA = 0x9908b0df
	mtUpper   = 0x80000000
	mtLower   = 0x7fffffff
)

// seed initialises the state from a 32-bit seed (init_genrand).
func (m *mt19937) seed(s uint32) {
	m.state[0] = s
	for j := 1; j < mtN; j++ {
		prev := m.state[j-1]
		m.state[j] = 1812433253*(prev^(prev>>30)) + uint32(j)
	}
	m.next = mtN
}

// refill regenerates the state and its tempered outputs.
func (m *mt19937) refill() {
	kern.mtBlock(&m.state, &m.out)
	m.next = 0
}

// uint32 returns the next 32-bit output.
func (m *mt19937) uint32() uint32 {
	if m.next >= mtN {
		m.refill()
	}
	y := m.out[m.next]
	m.next++
	return y
}

// buffered returns the outputs not used yet, regenerating first if there
// are none. The caller advances next by how many it uses.
func (m *mt19937) buffered() []uint32 {
	if m.next >= mtN {
		m.refill()
	}
	return m.out[m.next:]
}

// fill writes the next len(dst) outputs to dst.
func (m *mt19937) fill(dst []uint32) {
	for len(dst) > 0 {
		k := copy(dst, m.buffered())
		m.next += k
		dst = dst[k:]
	}
}

// mtBlockRef is the reference mtBlock: it regenerates all mtN state words
// (the twist of MT19937RNGEngine.h's next_state) and writes their tempered
// values to out.
func mtBlockRef(state, out *[mtN]uint32) {
	st := state
	mix := func(u, v uint32) uint32 {
		y := (u & mtUpper) | (v & mtLower)
		r := y >> 1
		if v&1 != 0 {
			r ^= mtMatrixA
		}
		return r
	}
	j := 0
	for ; j < mtN-mtM; j++ {
		st[j] = st[j+mtM] ^ mix(st[j], st[j+1])
	}
	for ; j < mtN-1; j++ {
		st[j] = st[j+mtM-mtN] ^ mix(st[j], st[j+1])
	}
	st[mtN-1] = st[mtM-1] ^ mix(st[mtN-1], st[0])
	for i, y := range st {
		y ^= y >> 11
		y ^= (y << 7) & 0x9d2c5680
		y ^= (y << 15) & 0xefc60000
		y ^= y >> 18
		out[i] = y
	}
}
