package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/embstore/embstore/internal/floatconv"
)

func openBytes(t *testing.T, b []byte) *File {
	t.Helper()
	f, err := NewFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUnalignedF32(t *testing.T) {
	f := openBytes(t, mustCase(t, "valid-unaligned-f32"))
	ti, _ := f.Tensor("t")
	if ti.Offset%4 == 0 {
		t.Fatalf("fixture data at offset %d is aligned", ti.Offset)
	}
	rr, err := f.Rows("t")
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, rr)
	sameFloats(t, "t", got, []float32{1, 2, 3, 4, 5, 6})
	row := make([]float32, 3)
	if err := rr.ReadRows(row, 1, 1); err != nil {
		t.Fatal(err)
	}
	sameFloats(t, "row 1", row, []float32{4, 5, 6})
}

func mustCase(t *testing.T, name string) []byte {
	t.Helper()
	for _, c := range craftedCases() {
		if c.name == name {
			return c.data
		}
	}
	t.Fatalf("no crafted case %s", name)
	return nil
}

func TestReadRowsArguments(t *testing.T) {
	f := openBytes(t, mustCase(t, "valid-unaligned-f32"))
	rr, _ := f.Rows("t")
	dst := make([]float32, 6)
	for _, c := range []struct{ r0, n int64 }{{-1, 1}, {0, -1}, {0, 3}, {2, 1}, {3, 0}, {1, math.MaxInt64}} {
		if err := rr.ReadRows(dst, c.r0, c.n); err == nil {
			t.Errorf("ReadRows(r0=%d, n=%d) of 2 rows succeeded", c.r0, c.n)
		}
	}
	if err := rr.ReadRows(dst[:5], 0, 2); err == nil {
		t.Error("ReadRows into a short dst succeeded")
	}
	if err := rr.ReadRows(nil, 2, 0); err != nil {
		t.Errorf("ReadRows of no rows at the end: %v", err)
	}
	for _, c := range []struct{ rows, cols int64 }{{-1, -6}, {3, 3}, {6, 0}, {0, 6}, {1 << 40, 1 << 40}, {math.MaxInt64, 2}} {
		if _, err := f.RowsAs("t", c.rows, c.cols); !errors.Is(err, ErrNotMatrix) {
			t.Errorf("RowsAs(%d, %d) of 6 elements: %v; want ErrNotMatrix", c.rows, c.cols, err)
		}
	}
	for _, shape := range [][2]int64{{6, 1}, {1, 6}, {3, 2}} {
		rr, err := f.RowsAs("t", shape[0], shape[1])
		if err != nil {
			t.Fatal(err)
		}
		sameFloats(t, "reshaped", readAll(t, rr), []float32{1, 2, 3, 4, 5, 6})
	}
	if _, err := f.Rows("nope"); !errors.Is(err, ErrTensorNotFound) {
		t.Errorf("Rows of a missing tensor: %v", err)
	}

	z := openBytes(t, mustCase(t, "valid-zero-size"))
	rr, err := z.Rows("z0")
	if err != nil || rr.Rows() != 0 || rr.Cols() != 8 {
		t.Fatalf("Rows of a [0, 8] tensor: %v, %d x %d", err, rr.Rows(), rr.Cols())
	}
	if err := rr.ReadRows(nil, 0, 0); err != nil {
		t.Error(err)
	}
	rr, _ = z.Rows("z1")
	if err := rr.ReadRows(nil, 2, 1); err != nil || rr.Cols() != 0 {
		t.Errorf("ReadRows of a [3, 0] tensor: %v", err)
	}
}

// TestRowReaderStreams reads a tensor larger than the scratch buffer in
// uneven pieces and checks every value and the scratch size.
func TestRowReaderStreams(t *testing.T) {
	const rows, cols = 1500, 1000 // 3 MB of BF16, 12 MB of F64
	for _, c := range []struct {
		dt     DType
		size   int
		encode func([]byte, []float32)
		decode func(float32) float32
	}{
		{BF16, 2, func(b []byte, v []float32) { floatconv.F32ToBF16(b, v) }, func(f float32) float32 { return floatconv.BF16BitsToF32(floatconv.F32ToBF16Bits(f)) }},
		{F16, 2, func(b []byte, v []float32) { floatconv.F32ToF16(b, v) }, func(f float32) float32 { return floatconv.F16BitsToF32(floatconv.F32ToF16Bits(f)) }},
		{F64, 8, func(b []byte, v []float32) {
			for i, f := range v {
				binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(f)))
			}
		}, func(f float32) float32 { return f }},
		{F8E4M3, 1, func(b []byte, v []float32) { floatconv.F32ToF8E4M3(b, v) }, func(f float32) float32 { return floatconv.F8E4M3BitsToF32(floatconv.F32ToF8E4M3Bits(f)) }},
		{F32, 4, func(b []byte, v []float32) { floatconv.F32ToF32LE(b, v) }, func(f float32) float32 { return f }},
	} {
		t.Run(string(c.dt), func(t *testing.T) {
			rng := splitmix(uint64(c.size))
			vals := make([]float32, rows*cols)
			for i := range vals {
				vals[i] = float32(int32(rng.next())) / (1 << 31)
			}
			data := make([]byte, len(vals)*c.size)
			c.encode(data, vals)
			var buf bytes.Buffer
			if _, err := Write(&buf, nil, []WriteTensor{{Name: "w", DType: c.dt, Shape: []int64{rows, cols}, Data: bytesData(data)}}); err != nil {
				t.Fatal(err)
			}
			f := openBytes(t, buf.Bytes())
			rr, err := f.Rows("w")
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, rows*cols)
			for r0 := int64(0); r0 < rows; {
				n := min(rows-r0, 1+r0%617)
				if err := rr.ReadRows(got[r0*cols:], r0, n); err != nil {
					t.Fatal(err)
				}
				r0 += n
			}
			if len(rr.scratch) > ScratchSize {
				t.Errorf("scratch grew to %d bytes", len(rr.scratch))
			}
			for i, v := range vals {
				if want := c.decode(v); math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("value %d = %v; want %v", i, got[i], want)
				}
			}
		})
	}
}

func TestConcurrentRowReaders(t *testing.T) {
	f, err := Open(filepath.Join(smallDir, "mixed-small.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]float32{}
	names := []string{"f32", "f16", "bf16", "f64", "f8_e4m3", "f8_e5m2"}
	for _, n := range names {
		rr, _ := f.Rows(n)
		want[n] = readAll(t, rr)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(names))
	for range 8 {
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rr, err := f.Rows(n)
				if err != nil {
					errs <- err
					return
				}
				row := make([]float32, rr.Cols())
				for r := range rr.Rows() {
					if err := rr.ReadRows(row, r, 1); err != nil {
						errs <- err
						return
					}
					for j, v := range row {
						if math.Float32bits(v) != math.Float32bits(want[n][r*rr.Cols()+int64(j)]) {
							errs <- errors.New("concurrent read of " + n + " differs")
							return
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTruncatedWhileMapped shrinks a mapped file under the reader: reading
// the vanished pages must return ErrReadFault, not kill the process.
func TestTruncatedWhileMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shrinks.safetensors")
	const rows, cols = 256, 1024 // 1 MiB of F32
	for _, dt := range []DType{F32, BF16} {
		if err := WriteFile(path, nil, []WriteTensor{{Name: "w", DType: dt, Shape: []int64{rows, cols}, Data: bytesData(make([]byte, rows*cols*dt.Bits()/8))}}); err != nil {
			t.Fatal(err)
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 4096); err != nil {
			t.Fatal(err)
		}
		rr, err := f.Rows("w")
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, rows*cols)
		if err := rr.ReadRows(dst, 0, rows); !errors.Is(err, ErrReadFault) {
			t.Errorf("%s: reading rows of a truncated mapped file: %v; want ErrReadFault", dt, err)
		}
		if _, err := f.SHA256(); !errors.Is(err, ErrReadFault) {
			t.Errorf("%s: hashing a truncated mapped file: %v; want ErrReadFault", dt, err)
		}
		f.Close()
	}
}

func TestOpenRejectsNonRegular(t *testing.T) {
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open of a directory succeeded")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
}
