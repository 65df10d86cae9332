package pack

import (
	"fmt"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/torchinit"
)

// A SeedSpec describes a seeded table: what
//
//	torch.manual_seed(Seed)
//	tokens = torch.nn.Embedding(Rows, Dim)       # or nn.init.normal_ / uniform_
//	positions = torch.nn.Embedding(Positions, Dim)
//
// computes on the given math path, stored as DType.
type SeedSpec struct {
	Rows      int64
	Dim       int
	Seed      uint64
	Positions int64 // 0 for no positional table
	Init      torchinit.Init
	InitName  string // recorded in the metadata: "embedding", "normal" or "uniform"
	Math      torchinit.MathPath
	DType     format.DType // zero means F32
	WriteOptions
}

// Seeded writes the table spec describes to path, atomically. The positional
// table is drawn from the same generator right after the token table, with
// the same initialisation, as constructing a second nn.Embedding does.
func Seeded(path string, spec SeedSpec, progress Progress) error {
	if err := spec.Init.Validate(); err != nil {
		return err
	}
	fw, err := create(path, format.Layout{Rows: spec.Rows, Dim: spec.Dim, DType: spec.DType, Positions: spec.Positions}, spec.WriteOptions)
	if err != nil {
		return err
	}
	defer fw.Abort()
	g := torchinit.NewGenerator(spec.Seed)
	total := spec.Rows + spec.Positions
	chunk := max(1, chunkValues/spec.Dim) * spec.Dim
	done := int64(0)
	for _, part := range []struct {
		rows  int64
		write func([]float32) error
	}{{spec.Rows, fw.WriteTokens}, {spec.Positions, fw.WritePositions}} {
		if part.rows == 0 {
			continue
		}
		t, err := g.NewTensor(part.rows*int64(spec.Dim), spec.Init, spec.Math)
		if err != nil {
			return err
		}
		err = t.Stream(chunk, func(vals []float32) error {
			if err := part.write(vals); err != nil {
				return err
			}
			done += int64(len(vals) / spec.Dim)
			progress.report(done, total)
			return nil
		})
		if err != nil {
			return err
		}
	}
	prov := &format.Provenance{
		Creator: Creator,
		Source:  "seed",
		Seed: &format.SeedSource{
			Seed: spec.Seed, Init: spec.initName(), Params: initParams(spec.Init),
			TorchMath: spec.Math.String(), Generator: "torch.mt19937", Positions: spec.Positions,
		},
	}
	if spec.DType != 0 && spec.DType != format.F32 {
		prov.Conversion = &ConversionInfo{From: "f32", To: spec.DType.String(), MaxAbsError: fw.MaxError()}
	}
	err = setProvenance(fw, prov)
	if err != nil {
		return err
	}
	return fw.Commit()
}

func (spec SeedSpec) initName() string {
	switch {
	case spec.InitName != "":
		return spec.InitName
	case spec.Init.Kind == torchinit.KindUniform:
		return "uniform"
	case spec.Init == torchinit.Embedding():
		return "embedding"
	}
	return "normal"
}

func initParams(in torchinit.Init) map[string]float64 {
	if in.Kind == torchinit.KindUniform {
		return map[string]float64{"low": in.Low, "high": in.High}
	}
	return map[string]float64{"mean": in.Mean, "std": in.Std}
}

// ParseInit returns the initialisation named kind ("embedding", "normal",
// "uniform") with the given parameters.
func ParseInit(kind string, mean, std, low, high float64) (torchinit.Init, error) {
	switch kind {
	case "embedding":
		return torchinit.Embedding(), nil
	case "normal":
		return torchinit.Normal(mean, std), nil
	case "uniform":
		return torchinit.Uniform(low, high), nil
	}
	return torchinit.Init{}, fmt.Errorf("unknown init %q (want embedding, normal or uniform)", kind)
}
