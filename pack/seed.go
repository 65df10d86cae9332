package pack

import (
	"context"
	"fmt"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/torchinit"
)

// An InitKind is how Seed initialises a table, as PyTorch names it.
type InitKind int

// The initialisations.
const (
	// InitEmbedding is what torch.nn.Embedding does to its weight: normal
	// with mean 0 and standard deviation 1 (Mean and Std are ignored).
	InitEmbedding InitKind = iota
	// InitNormal is torch.nn.init.normal_(w, Mean, Std).
	InitNormal
	// InitUniform is torch.nn.init.uniform_(w, Low, High).
	InitUniform
)

var initNames = []string{"embedding", "normal", "uniform"}

// String returns the name ParseInitKind reads and the metadata records:
// "embedding", "normal" or "uniform".
func (k InitKind) String() string {
	if k >= 0 && int(k) < len(initNames) {
		return initNames[k]
	}
	return fmt.Sprintf("InitKind(%d)", int(k))
}

// ParseInitKind returns the InitKind named s.
func ParseInitKind(s string) (InitKind, error) {
	for i, name := range initNames {
		if s == name {
			return InitKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown init %q (want %s)", s, strings.Join(initNames, ", "))
}

// An Init is how Seed initialises a table. The zero value is InitEmbedding.
// Parameters are float64, as Python passes them; they are converted to
// float32 where ATen does.
type Init struct {
	Kind      InitKind
	Mean, Std float64 // InitNormal
	Low, High float64 // InitUniform: values in [Low, High)
}

// torch returns the generator's description of in.
func (in Init) torch() (torchinit.Init, error) {
	switch in.Kind {
	case InitEmbedding:
		return torchinit.Embedding(), nil
	case InitNormal:
		return torchinit.Normal(in.Mean, in.Std), nil
	case InitUniform:
		return torchinit.Uniform(in.Low, in.High), nil
	}
	return torchinit.Init{}, &SpecError{Field: "SeedSpec.Init.Kind", Value: int(in.Kind), Problem: "want InitEmbedding, InitNormal or InitUniform"}
}

// params returns the parameters the metadata records.
func (in Init) params() map[string]float64 {
	switch in.Kind {
	case InitEmbedding:
		return map[string]float64{"mean": 0, "std": 1}
	case InitUniform:
		return map[string]float64{"low": in.Low, "high": in.High}
	}
	return map[string]float64{"mean": in.Mean, "std": in.Std}
}

// A MathPath is which of PyTorch's CPU kernels Seed reproduces: PyTorch
// draws normal values differently on CPUs with AVX2 and on the scalar path.
type MathPath int

// The math paths.
const (
	// MathAVX2 is ATen's AVX2 kernel, what torch runs on every x86-64 CPU
	// with AVX2 (the zero value).
	MathAVX2 MathPath = iota
	// MathDefault is ATen's scalar kernel (ATEN_CPU_CAPABILITY=default, or
	// a CPU without AVX2).
	MathDefault
)

// String returns "avx2" or "default", the names ParseMathPath reads and the
// metadata records.
func (p MathPath) String() string { return p.torch().String() }

func (p MathPath) torch() torchinit.MathPath {
	if p == MathDefault {
		return torchinit.MathDefault
	}
	if p == MathAVX2 {
		return torchinit.MathAVX2
	}
	return torchinit.MathPath(p)
}

// ParseMathPath returns the MathPath named s: "avx2" or "default", as
// ATEN_CPU_CAPABILITY spells them.
func ParseMathPath(s string) (MathPath, error) {
	switch s {
	case "avx2":
		return MathAVX2, nil
	case "default":
		return MathDefault, nil
	}
	return 0, fmt.Errorf("unknown math path %q (want avx2 or default)", s)
}

// A SeedSpec describes a seeded table: what
//
//	torch.manual_seed(Seed)
//	tokens = torch.nn.Embedding(Rows, Dim)       # or nn.init.normal_ / uniform_
//	positions = torch.nn.Embedding(Positions, Dim)
//
// computes on the given math path, stored as DType.
type SeedSpec struct {
	Rows      int64        // token rows, 1 to format.MaxRows
	Dim       int          // values per row, 1 to format.MaxDim
	Seed      uint64       // the torch seed (torch keeps a negative one as its two's complement)
	Positions int64        // rows of the positional table, 0 for none, at most format.MaxPositions
	Init      Init         // the zero value is nn.Embedding's
	Math      MathPath     // the zero value is MathAVX2
	DType     format.DType // storage dtype; zero means F32
	// Tokenizer, if not "", is a tokenizer to store with the table (a file
	// or a directory, as ImportSpec.Tokenizer): the table gets a vocabulary
	// and a tokenizer section, and text can be looked up in it. The rows
	// are what they are without it. Its ids must fit Rows.
	Tokenizer string
}

// check returns the first problem of spec, as a *SpecError.
func (spec *SeedSpec) check() (torchinit.Init, error) {
	switch {
	case spec.Rows < 1 || spec.Rows > format.MaxRows:
		return torchinit.Init{}, &SpecError{Field: "SeedSpec.Rows", Value: spec.Rows, Problem: fmt.Sprintf("want 1 to %d", int64(format.MaxRows))}
	case spec.Dim < 1 || spec.Dim > format.MaxDim:
		return torchinit.Init{}, &SpecError{Field: "SeedSpec.Dim", Value: spec.Dim, Problem: fmt.Sprintf("want 1 to %d", format.MaxDim)}
	case spec.Positions < 0 || spec.Positions > format.MaxPositions:
		return torchinit.Init{}, &SpecError{Field: "SeedSpec.Positions", Value: spec.Positions, Problem: fmt.Sprintf("want 0 to %d", format.MaxPositions)}
	case spec.Math != MathAVX2 && spec.Math != MathDefault:
		return torchinit.Init{}, &SpecError{Field: "SeedSpec.Math", Value: int(spec.Math), Problem: "want MathAVX2 or MathDefault"}
	case spec.DType != 0 && !spec.DType.Valid():
		return torchinit.Init{}, &SpecError{Field: "SeedSpec.DType", Value: spec.DType, Problem: "want F32, F16, BF16 or Int8"}
	}
	in, err := spec.Init.torch()
	if err != nil {
		return in, err
	}
	if err := in.Validate(); err != nil {
		// torchinit's message is PyTorch's, after its own prefix.
		return in, &SpecError{Field: "SeedSpec.Init", Value: spec.Init.Kind.String() + initArgs(spec.Init),
			Problem: strings.TrimPrefix(err.Error(), "torchinit: ")}
	}
	return in, nil
}

// initArgs formats an Init's parameters for a message.
func initArgs(in Init) string {
	switch in.Kind {
	case InitNormal:
		return fmt.Sprintf("(mean %g, std %g)", in.Mean, in.Std)
	case InitUniform:
		return fmt.Sprintf("(low %g, high %g)", in.Low, in.High)
	}
	return ""
}

// Seed writes the table spec describes to dst, atomically: the token table,
// then the positional table drawn from the same generator right after it,
// with the same initialisation, as constructing a second nn.Embedding does.
// Values are drawn in float32, bit for bit what PyTorch computes, then
// stored as spec.DType, rounded as torch's .to() rounds (int8: FBGEMM's
// row-wise quantisation); the metadata records the seed, the
// initialisation, the math path and, for another dtype, the largest error
// the rounding made.
func Seed(ctx context.Context, dst string, spec SeedSpec, o *Options) error {
	o = opts(o)
	in, err := spec.check()
	if err != nil {
		return err
	}
	layout := format.Layout{Rows: spec.Rows, Dim: spec.Dim, DType: spec.DType, Positions: spec.Positions}
	var tok *attached
	var inputs []string
	if spec.Tokenizer != "" {
		if tok, err = readTokenizer(spec.Tokenizer, spec.Rows); err != nil {
			return err
		}
		layout.Vocabulary, inputs = true, tok.files
	}
	fw, err := create(dst, layout, o, inputs...)
	if err != nil {
		return err
	}
	defer fw.Abort()
	if tok != nil {
		if err := tok.write(fw); err != nil {
			return err
		}
	}
	g := torchinit.NewGenerator(spec.Seed)
	dim := int64(spec.Dim)
	count := o.counter(spec.Rows + spec.Positions)
	for _, part := range []struct {
		rows  int64
		write func([]float32) error
	}{{spec.Rows, fw.WriteTokens}, {spec.Positions, fw.WritePositions}} {
		if part.rows == 0 {
			continue
		}
		t, err := g.NewTensor(part.rows*dim, in, spec.Math.torch())
		if err != nil {
			return err
		}
		err = t.Stream(int(rowsStep(dim)*dim), func(vals []float32) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := part.write(vals); err != nil {
				return err
			}
			count.add(int64(len(vals)) / dim)
			return nil
		})
		if err != nil {
			return err
		}
	}
	prov := &Provenance{
		Creator: o.creator(),
		Source:  "seed",
		Seed: &SeedSource{
			Seed: spec.Seed, Init: spec.Init.Kind.String(), Params: spec.Init.params(),
			TorchMath: spec.Math.String(), Generator: "torch.mt19937", Positions: spec.Positions,
		},
	}
	if tok != nil {
		prov.Tokenizer, prov.Vocabulary = &tok.info, tok.vocab
	}
	if spec.DType != 0 && spec.DType != format.F32 {
		prov.Conversion = &ConversionInfo{From: "f32", To: spec.DType.String(), MaxAbsError: fw.MaxError()}
	}
	if err := setProvenance(fw, prov); err != nil {
		return err
	}
	return fw.Commit()
}
