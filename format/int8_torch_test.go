package format

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// torchInt8 is the layout of testdata/torch/torch-int8.json (see
// gen_int8.py): rows quantised by torch's embedding_bag_byte_prepack.
type torchInt8 struct {
	Torch  string `json:"torch"`
	Tables []struct {
		Dim       int       `json:"dim"`
		Rows      []float32 `json:"rows"`
		PackedHex []string  `json:"packed_hex"`
		Unpacked  []float32 `json:"unpacked"`
	} `json:"tables"`
	Example struct {
		Row       []float32 `json:"row"`
		PackedHex string    `json:"packed_hex"`
	} `json:"example"`
}

// fbgemmToEmbstore converts a row in FBGEMM's fused 8-bit row-wise layout
// (dim codes, f32 scale, f32 bias) to an int8 row of this format: the same
// bytes, with zeros after the codes up to a multiple of 4 (SPEC.md, Dtypes).
func fbgemmToEmbstore(fused []byte, dim int) []byte {
	row := make([]byte, Int8.RowSize(dim))
	copy(row, fused[:dim])
	copy(row[Int8ScaleOffset(dim):], fused[dim:dim+8])
	return row
}

// TestInt8MatchesTorchPrepack quantises rows as torch's
// embedding_bag_byte_prepack (FBGEMM's fused 8-bit row-wise format) does and
// compares the bytes: every code, the scale and the bias bit for bit. The
// format defines a value as scale*q+bias rounded once (fma, as FBGEMM's AVX2
// kernels compute it); torch's embedding_bag_byte_unpack in builds without
// FBGEMM rounds the product first. The test checks both against the bytes:
// DecodeRow against the exact value rounded once (math/big), torch's
// unpacked values against the product and sum rounded twice, and counts
// where the two agree.
func TestInt8MatchesTorchPrepack(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "torch", "torch-int8.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref torchInt8
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	rowsChecked, identical, values := 0, 0, 0
	for _, tab := range ref.Tables {
		dim := tab.Dim
		for r, hx := range tab.PackedHex {
			fused, err := hex.DecodeString(hx)
			if err != nil || len(fused) != dim+8 {
				t.Fatalf("dim %d row %d: packed row %q: %v", dim, r, hx, err)
			}
			src := tab.Rows[r*dim : (r+1)*dim]
			got := make([]byte, Int8.RowSize(dim))
			if _, err := EncodeRow(got, src, Int8); err != nil {
				t.Fatalf("dim %d row %d: %v", dim, r, err)
			}
			want := fbgemmToEmbstore(fused, dim)
			if !bytes.Equal(got, want) {
				gs, gb := Int8Params(got, dim)
				ws, wb := Int8Params(want, dim)
				t.Errorf("dim %d row %d: codes %x scale %v bias %v; torch: codes %x scale %v bias %v",
					dim, r, got[:dim], gs, gb, want[:dim], ws, wb)
				continue
			}
			rowsChecked++
			dec := make([]float32, dim)
			DecodeRow(dec, got, Int8)
			scale, bias := Int8Params(got, dim)
			for j, v := range dec {
				u := tab.Unpacked[r*dim+j]
				values++
				if math.Float32bits(v) == math.Float32bits(u) {
					identical++
				}
				// torch's unpack without FBGEMM: the product rounded, then
				// the sum.
				if twice := float32(float32(scale*float32(got[j])) + bias); math.Float32bits(twice) != math.Float32bits(u) {
					t.Errorf("dim %d row %d value %d: torch unpacks %v; scale*q+bias rounded twice is %v", dim, r, j, u, twice)
				}
				// The format's value: one rounding of the exact scale*q+bias.
				exact := new(big.Float).SetPrec(1024).SetFloat64(float64(scale))
				exact.Mul(exact, big.NewFloat(float64(got[j])))
				exact.Add(exact, new(big.Float).SetFloat64(float64(bias)))
				if once, _ := exact.Float32(); math.Float32bits(once) != math.Float32bits(v) {
					t.Errorf("dim %d row %d value %d: decodes to %v; scale*q+bias rounded once is %v", dim, r, j, v, once)
				}
			}
		}
	}
	if rowsChecked == 0 {
		t.Fatal("no row compared")
	}
	t.Logf("torch %s: %d rows quantised to the same bytes; %d of %d values decode to torch's unpacked value (the others differ by the rounding of scale*q)",
		ref.Torch, rowsChecked, identical, values)
}

// TestInt8LayoutWorkedExample spells out SPEC.md's int8 example: the row
// [-1, 0, 0.5, 2, 1] against torch's packed bytes.
func TestInt8LayoutWorkedExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "torch", "torch-int8.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref torchInt8
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	// torch: 5 codes, then scale 3/255 and bias -1 as little-endian f32.
	const torchHex = "005580ffaac1c0403c000080bf"
	if ref.Example.PackedHex != torchHex {
		t.Fatalf("torch packed the example as %s; SPEC.md shows %s", ref.Example.PackedHex, torchHex)
	}
	row := make([]byte, Int8.RowSize(5))
	if _, err := EncodeRow(row, []float32{-1, 0, 0.5, 2, 1}, Int8); err != nil {
		t.Fatal(err)
	}
	// This format: the same codes, 3 zero bytes to align, scale, bias.
	want := []byte{0x00, 0x55, 0x80, 0xff, 0xaa, 0, 0, 0, 0xc1, 0xc0, 0x40, 0x3c, 0x00, 0x00, 0x80, 0xbf}
	if !bytes.Equal(row, want) {
		t.Fatalf("encoded % x, want % x", row, want)
	}
	if s := math.Float32frombits(binary.LittleEndian.Uint32(want[8:])); s != float32(3)/255 {
		t.Fatalf("scale %v, want 3/255", s)
	}
}
