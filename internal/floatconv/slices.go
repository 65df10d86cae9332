package floatconv

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"
)

// nativeLittleEndian reports whether this machine stores a float32 in the
// same byte order as safetensors data, so that float32 runs can be copied
// byte for byte.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float32Bytes views the elements of a float32 slice as bytes. It is used
// only to copy bytes into or out of a properly aligned float32 slice; source
// data from files is never reinterpreted in place.
func float32Bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

// F32LEToF32 decodes little-endian float32 values from src into dst and
// returns the number of elements decoded, min(len(dst), len(src)/4). Bits are
// copied unchanged, NaN payloads included.
func F32LEToF32(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/4)
	if nativeLittleEndian {
		return copy(float32Bytes(dst[:n]), src[:n*4]) / 4
	}
	for i := range n {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[i*4:]))
	}
	return n
}

// F32ToF32LE encodes float32 values from src into dst as little-endian
// bytes and returns the number of elements encoded, min(len(dst)/4,
// len(src)). Bits are copied unchanged.
func F32ToF32LE(dst []byte, src []float32) int {
	n := min(len(dst)/4, len(src))
	if nativeLittleEndian {
		return copy(dst[:n*4], float32Bytes(src[:n])) / 4
	}
	for i := range n {
		binary.LittleEndian.PutUint32(dst[i*4:], math.Float32bits(src[i]))
	}
	return n
}

// F16ToF32 widens little-endian binary16 values from src into dst and returns
// the number of elements converted, min(len(dst), len(src)/2). See
// F16BitsToF32. It looks values up in a 256 KiB table built on first use.
func F16ToF32(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	src = src[:n*2]
	dst = dst[:n]
	tab := f16Table()
	i := 0
	for ; i+4 <= n; i += 4 {
		// Four values per 8-byte load.
		x := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = math.Float32frombits(tab[uint16(x)])
		d[1] = math.Float32frombits(tab[uint16(x>>16)])
		d[2] = math.Float32frombits(tab[uint16(x>>32)])
		d[3] = math.Float32frombits(tab[uint16(x>>48)])
	}
	for ; i < n; i++ {
		dst[i] = math.Float32frombits(tab[binary.LittleEndian.Uint16(src[2*i:])])
	}
	return n
}

// f16Table returns the float32 bits of every binary16 pattern.
var f16Table = sync.OnceValue(func() *[1 << 16]uint32 {
	var t [1 << 16]uint32
	for i := range t {
		t[i] = f16ToF32Bits(uint16(i))
	}
	return &t
})

// F32ToF16 narrows float32 values from src to little-endian binary16 in dst
// and returns the number of elements converted, min(len(dst)/2, len(src)).
// See F32ToF16Bits.
func F32ToF16(dst []byte, src []float32) int {
	n := min(len(dst)/2, len(src))
	for i, f := range src[:n] {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16Bits(f))
	}
	return n
}

// BF16ToF32 widens little-endian bfloat16 values from src into dst and
// returns the number of elements converted, min(len(dst), len(src)/2). See
// BF16BitsToF32.
func BF16ToF32(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/2)
	src = src[:n*2]
	dst = dst[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		// Four values per 8-byte load.
		x := binary.LittleEndian.Uint64(src[2*i:])
		d := dst[i : i+4 : i+4]
		d[0] = math.Float32frombits(uint32(x) << 16)
		d[1] = math.Float32frombits(uint32(x>>16) << 16)
		d[2] = math.Float32frombits(uint32(x>>32) << 16)
		d[3] = math.Float32frombits(uint32(x>>48) << 16)
	}
	for ; i < n; i++ {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
	return n
}

// F32ToBF16 narrows float32 values from src to little-endian bfloat16 in dst
// and returns the number of elements converted, min(len(dst)/2, len(src)).
// See F32ToBF16Bits.
func F32ToBF16(dst []byte, src []float32) int {
	n := min(len(dst)/2, len(src))
	for i, f := range src[:n] {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16Bits(f))
	}
	return n
}

// F8E4M3ToF32 widens float8_e4m3fn values from src into dst and returns the
// number of elements converted, min(len(dst), len(src)). See
// F8E4M3BitsToF32.
func F8E4M3ToF32(dst []float32, src []byte) int {
	n := min(len(dst), len(src))
	for i, b := range src[:n] {
		dst[i] = math.Float32frombits(f8e4m3Table[b])
	}
	return n
}

// F32ToF8E4M3 narrows float32 values from src to float8_e4m3fn in dst and
// returns the number of elements converted, min(len(dst), len(src)). See
// F32ToF8E4M3Bits.
func F32ToF8E4M3(dst []byte, src []float32) int {
	n := min(len(dst), len(src))
	for i, f := range src[:n] {
		dst[i] = F32ToF8E4M3Bits(f)
	}
	return n
}

// F8E5M2ToF32 widens float8_e5m2 values from src into dst and returns the
// number of elements converted, min(len(dst), len(src)). See
// F8E5M2BitsToF32.
func F8E5M2ToF32(dst []float32, src []byte) int {
	n := min(len(dst), len(src))
	for i, b := range src[:n] {
		dst[i] = math.Float32frombits(f8e5m2Table[b])
	}
	return n
}

// F32ToF8E5M2 narrows float32 values from src to float8_e5m2 in dst and
// returns the number of elements converted, min(len(dst), len(src)). See
// F32ToF8E5M2Bits.
func F32ToF8E5M2(dst []byte, src []float32) int {
	n := min(len(dst), len(src))
	for i, f := range src[:n] {
		dst[i] = F32ToF8E5M2Bits(f)
	}
	return n
}

// F64ToF32 narrows little-endian float64 values from src into dst, rounding
// to nearest even as float32(x) does (overflow to infinity; NaNs stay NaN,
// quiet, with the top of their payload), and returns the number of elements
// converted, min(len(dst), len(src)/8).
func F64ToF32(dst []float32, src []byte) int {
	n := min(len(dst), len(src)/8)
	src = src[:n*8]
	for i := range dst[:n] {
		dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
	}
	return n
}

// f8e4m3Table and f8e5m2Table hold the float32 bits of every 8-bit pattern.
var f8e4m3Table, f8e5m2Table = func() (a, b [256]uint32) {
	for i := range 256 {
		a[i] = f8e4m3ToF32Bits(uint8(i))
		b[i] = f16ToF32Bits(uint16(i) << 8)
	}
	return
}()
