package torchinit

// mt19937 is the 32-bit Mersenne Twister (Matsumoto and Nishimura, 1998) as
// ATen's at::mt19937 implements it (core/MT19937RNGEngine.h): init_genrand
// seeding and the standard tempering, so its output sequence is that of
// std::mt19937 with the same 32-bit seed.
type mt19937 struct {
	state [mtN]uint32
	next  int // index of the next state word to temper; mtN means "regenerate"
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

// twist regenerates all mtN state words.
func (m *mt19937) twist() {
	st := &m.state
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
	m.next = 0
}

// uint32 returns the next 32-bit output.
func (m *mt19937) uint32() uint32 {
	if m.next >= mtN {
		m.twist()
	}
	y := m.state[m.next]
	m.next++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}
