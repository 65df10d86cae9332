package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embstore/embstore/internal/floatconv"
)

// The real checkpoints, written by Hugging Face transformers and the
// reference safetensors implementation, and the values PyTorch computes
// from them.
const smallDir = "../../testdata/safetensors/small"

type expectedModel struct {
	IDs             []int64   `json:"ids"`
	Token           string    `json:"token"`
	Positions       string    `json:"positions"`
	PositionOffset  int64     `json:"position_offset"`
	Expected        []float32 `json:"expected"`
	TokenSHA256     string    `json:"token_sha256"`
	PositionsSHA256 string    `json:"positions_sha256"`
}

type expectedTensor struct {
	DType string    `json:"dtype"`
	Shape []int64   `json:"shape"`
	AsF32 []float32 `json:"as_f32"`
}

func loadExpected(t *testing.T) (models map[string]expectedModel, mixed map[string]expectedTensor) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(smallDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	models = map[string]expectedModel{}
	for k, v := range raw {
		if k == "mixed-small" {
			if err := json.Unmarshal(v, &mixed); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var m expectedModel
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatal(err)
		}
		models[k] = m
	}
	return models, mixed
}

// readAll reads a whole tensor through a RowReader.
func readAll(t *testing.T, rr *RowReader) []float32 {
	t.Helper()
	dst := make([]float32, rr.Rows()*rr.Cols())
	if err := rr.ReadRows(dst, 0, rr.Rows()); err != nil {
		t.Fatal(err)
	}
	return dst
}

func sameFloats(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values; want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v (%#08x); want %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func TestRealFilesParse(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(smallDir, "*", "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join(smallDir, "mixed-small.safetensors"))
	if len(paths) != 7 {
		t.Fatalf("found %d real files; want 7", len(paths))
	}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) == 0 {
			t.Errorf("%s: no tensors", p)
		}
		if f.Metadata["format"] != "pt" {
			t.Errorf("%s: __metadata__ = %v; want format pt", p, f.Metadata)
		}
		exercise(t, f)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := f.SHA256()
		if err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256(b); sum != want {
			t.Errorf("%s: SHA256 = %x; want %x", p, sum, want)
		}
		f.Close()
	}
}

func TestMixedSmallMatchesTorch(t *testing.T) {
	_, mixed := loadExpected(t)
	f, err := Open(filepath.Join(smallDir, "mixed-small.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata["source"]; got != "reference" {
		t.Errorf(`__metadata__["source"] = %q; want "reference"`, got)
	}
	torchDType := map[string]DType{
		"torch.float32": F32, "torch.float16": F16, "torch.bfloat16": BF16, "torch.float64": F64,
		"torch.float8_e4m3fn": F8E4M3, "torch.float8_e5m2": F8E5M2, "torch.int8": I8, "torch.int64": I64, "torch.bool": BOOL,
	}
	names := slices.Sorted(maps.Keys(mixed))
	if len(names) != len(f.Tensors) {
		t.Errorf("file has %d tensors, expected.json %d", len(f.Tensors), len(names))
	}
	for _, name := range names {
		want := mixed[name]
		ti, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if ti.DType != torchDType[want.DType] || !slices.Equal(ti.Shape, want.Shape) {
			t.Errorf("%s: %s %v; want %s %v", name, ti.DType, ti.Shape, want.DType, want.Shape)
		}
		rr, err := f.Rows(name)
		switch {
		case len(want.Shape) != 2:
			if !errors.Is(err, ErrNotMatrix) {
				t.Errorf("Rows(%s) of shape %v: %v; want ErrNotMatrix", name, want.Shape, err)
			}
			// An explicit reshape reads it, as one row per last dimension.
			cols := want.Shape[len(want.Shape)-1]
			if rr, err = f.RowsAs(name, ti.NumElements/cols, cols); err != nil {
				t.Fatal(err)
			}
		case !ti.DType.Float32Convertible():
			if !errors.Is(err, ErrNotConvertible) {
				t.Errorf("Rows(%s) of dtype %s: %v; want ErrNotConvertible", name, ti.DType, err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Tensor != name || fe.Field != "dtype" {
				t.Errorf("Rows(%s): error %#v does not name the tensor and field", name, err)
			}
			continue
		case err != nil:
			t.Fatal(err)
		}
		sameFloats(t, name, readAll(t, rr), want.AsF32)
	}
}

// TestMixedSmallNarrowingMatchesTorch narrows the float32 source tensor with
// floatconv and compares the result with the bytes PyTorch stored for the
// same values in the other dtypes.
func TestMixedSmallNarrowingMatchesTorch(t *testing.T) {
	f, err := Open(filepath.Join(smallDir, "mixed-small.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := f.Rows("f32")
	if err != nil {
		t.Fatal(err)
	}
	src := readAll(t, rr)
	for _, c := range []struct {
		name   string
		size   int
		narrow func([]byte, []float32) int
	}{
		{"f16", 2, floatconv.F32ToF16},
		{"bf16", 2, floatconv.F32ToBF16},
		{"f8_e4m3", 1, floatconv.F32ToF8E4M3},
		{"f8_e5m2", 1, floatconv.F32ToF8E5M2},
	} {
		got := make([]byte, len(src)*c.size)
		c.narrow(got, src)
		raw, err := f.RawReader(c.name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for got[i] == want[i] {
				i++
			}
			t.Errorf("narrowing f32 to %s differs from PyTorch at byte %d: %#02x, want %#02x", c.name, i, got[i], want[i])
		}
	}
}

func TestModelEmbeddings(t *testing.T) {
	models, _ := loadExpected(t)
	for _, dir := range []string{"gpt2-small", "bert-small", "llama-small-sharded", "opt-small"} {
		t.Run(dir, func(t *testing.T) {
			m := models[dir]
			c, err := OpenCheckpoint(filepath.Join(smallDir, dir))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tok, err := c.Rows(m.Token)
			if err != nil {
				t.Fatal(err)
			}
			var pos *RowReader
			if m.Positions != "" {
				if pos, err = c.Rows(m.Positions); err != nil {
					t.Fatal(err)
				}
			}
			dim := tok.Cols()
			var got []float32
			row := make([]float32, dim)
			prow := make([]float32, dim)
			for i, id := range m.IDs {
				if err := tok.ReadRows(row, id, 1); err != nil {
					t.Fatal(err)
				}
				if pos != nil {
					if err := pos.ReadRows(prow, m.PositionOffset+int64(i), 1); err != nil {
						t.Fatal(err)
					}
					for j := range row {
						row[j] += prow[j]
					}
				}
				got = append(got, row...)
			}
			sameFloats(t, dir, got, m.Expected)

			for _, h := range []struct{ name, want string }{{m.Token, m.TokenSHA256}, {m.Positions, m.PositionsSHA256}} {
				if h.want == "" {
					continue
				}
				rr, err := c.Rows(h.name)
				if err != nil {
					t.Fatal(err)
				}
				vals := readAll(t, rr)
				b := make([]byte, 4*len(vals))
				floatconv.F32ToF32LE(b, vals)
				if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h.want {
					t.Errorf("%s as float32: sha256 %x; want %s", h.name, sum, h.want)
				}
			}
		})
	}
}

func TestCheckpointConfig(t *testing.T) {
	for _, c := range []struct {
		dir, modelType string
		hidden, vocab  int64
	}{
		{"gpt2-small", "gpt2", 0, 1000},
		{"bert-small", "bert", 16, 1000},
		{"llama-small-sharded", "llama", 16, 1000},
		{"opt-small", "opt", 16, 1000},
	} {
		ck, err := OpenCheckpoint(filepath.Join(smallDir, c.dir))
		if err != nil {
			t.Fatal(err)
		}
		cfg := ck.Config
		if cfg == nil {
			t.Fatalf("%s: no config", c.dir)
		}
		if cfg.ModelType != c.modelType || cfg.HiddenSize != c.hidden || cfg.VocabSize != c.vocab {
			t.Errorf("%s: config %q hidden %d vocab %d; want %q %d %d", c.dir, cfg.ModelType, cfg.HiddenSize, cfg.VocabSize, c.modelType, c.hidden, c.vocab)
		}
		raw, err := os.ReadFile(filepath.Join(smallDir, c.dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(cfg.Raw, raw) {
			t.Errorf("%s: Config.Raw differs from config.json", c.dir)
		}
		ck.Close()
	}
}

func TestShardedLlama(t *testing.T) {
	dir := filepath.Join(smallDir, "llama-small-sharded")
	for _, src := range []string{dir, filepath.Join(dir, IndexFileName)} {
		c, err := OpenCheckpoint(src)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Sharded || len(c.Files) != 3 || c.Path != filepath.Join(dir, IndexFileName) {
			t.Fatalf("OpenCheckpoint(%s): sharded %v, %d files, path %s", src, c.Sharded, len(c.Files), c.Path)
		}
		var meta struct {
			TotalSize int64 `json:"total_size"`
		}
		if err := json.Unmarshal(c.IndexMetadata, &meta); err != nil || meta.TotalSize != 68704 {
			t.Errorf("IndexMetadata %s: total_size %d, %v", c.IndexMetadata, meta.TotalSize, err)
		}
		ts := c.Tensors()
		byName := func(a, b CheckpointTensor) int { return strings.Compare(a.Name, b.Name) }
		if len(ts) != 12 || !slices.IsSortedFunc(ts, byName) {
			t.Fatalf("Tensors: %d, sorted %v; want 12 sorted by name", len(ts), slices.IsSortedFunc(ts, byName))
		}
		for _, ct := range ts {
			f, ti, err := c.Tensor(ct.Name)
			if err != nil || f.Name != ct.File || ti.Name != ct.Name || ti.DType != BF16 {
				t.Errorf("Tensor(%s) = %v, %v, %v", ct.Name, f.Name, ti, err)
			}
		}
		if _, _, err := c.Tensor("model.embed_tokens.bias"); !errors.Is(err, ErrTensorNotFound) {
			t.Errorf("Tensor of a missing name: %v; want ErrTensorNotFound", err)
		}
		if _, err := c.Rows("model.norm.weight"); !errors.Is(err, ErrNotMatrix) {
			t.Errorf("Rows of a 1-D tensor: %v; want ErrNotMatrix", err)
		}
		rr, err := c.RowsAs("model.norm.weight", 1, 16)
		if err != nil || rr.DType() != BF16 {
			t.Fatalf("RowsAs: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
