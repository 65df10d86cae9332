package pack

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/safetensors"
	"github.com/embstore/embstore/kernel"
)

// Keys of the source metadata through which a table exported by embpack
// carries its position offset, token scale and compute dtype back on import.
const (
	metaPositionOffset = "embstore.position_offset"
	metaTokenScale     = "embstore.token_scale"
	metaComputeDType   = "embstore.compute_dtype"
)

// conventionSources is what the conventions of an import are decided from:
// the spec, embstore's keys in the source's __metadata__, and config.json.
type conventionSources struct {
	spec      ImportSpec
	meta      map[string]string // every file's __metadata__, merged
	cfg       map[string]any    // config.json, nil if none (or unreadable)
	modelType string            // config.json's model_type
	srcDType  safetensors.DType // the token tensor's dtype
}

// applyConventions decides the position offset, compute dtype and token
// scale of an import (each from the spec, else embstore's own keys in the
// source's metadata for a table it exported, else config.json beside the
// weights), sets them in the layout and records them, with where each came
// from, in info.
func applyConventions(ck *safetensors.Checkpoint, spec ImportSpec, srcDType safetensors.DType, l *format.Layout, info *ImportInfo) error {
	src := conventionSources{spec: spec, meta: map[string]string{}, modelType: info.ModelType, srcDType: srcDType}
	if ck.Config != nil {
		_ = json.Unmarshal(ck.Config.Raw, &src.cfg)
	}
	for _, f := range ck.Files {
		for k, v := range f.Metadata {
			src.meta[k] = v
		}
	}
	if err := src.checkConfig(ck, l.Positions > 0, info); err != nil {
		return err
	}
	info.TokenScale = 1

	offset, reason, err := src.positionOffset(l.Positions)
	if err != nil {
		return err
	}
	if l.Positions > 0 {
		l.PositionOffset, info.PositionOffset, info.PositionReason = offset, offset, reason
	}

	compute, creason, err := src.computeDType()
	if err != nil {
		return err
	}
	l.ComputeDType = compute
	if compute != 0 {
		info.ComputeDType, info.ComputeReason = compute.String(), creason
	}

	scale, sreason, err := src.tokenScale(compute)
	if err != nil || scale == 1 {
		return err
	}
	l.TokenScale = scale
	info.TokenScale, info.ScaleReason = scale, sreason
	return nil
}

// checkConfig decides what a config.json that cannot be read means: an
// error if a convention has to come from it (one given neither by the
// spec nor by embstore's keys in the source metadata), else a warning.
func (src *conventionSources) checkConfig(ck *safetensors.Checkpoint, positions bool, info *ImportInfo) error {
	if ck.ConfigErr == nil {
		return nil
	}
	var needs []string
	if positions && src.spec.PositionOffset == nil && src.meta[metaPositionOffset] == "" {
		needs = append(needs, "position offset")
	}
	if src.spec.Scale == nil && src.meta[metaTokenScale] == "" {
		needs = append(needs, "token scale")
	}
	if src.spec.ComputeDType == nil && src.meta[metaComputeDType] == "" {
		needs = append(needs, "compute dtype")
	}
	if len(needs) > 0 {
		return &ConfigError{Err: ck.ConfigErr, Needed: needs}
	}
	info.Warnings = append(info.Warnings, fmt.Sprintf("ignored %s, which every convention was given without: %v", ck.ConfigPath, ck.ConfigErr))
	return nil
}

// positionOffset decides the positional row of position 0 for a positional
// table of positions rows (0 for none): the spec's, embstore's key, or 2
// for the model types whose learned positions start at row 2.
func (src *conventionSources) positionOffset(positions int64) (int64, string, error) {
	const what = "position offset"
	offset, reason := int64(0), ""
	switch {
	case src.spec.PositionOffset != nil:
		offset, reason = *src.spec.PositionOffset, source(src.spec.GivenBy.PositionOffset, "PositionOffset")
	case src.meta[metaPositionOffset] != "":
		v, err := strconv.ParseInt(src.meta[metaPositionOffset], 10, 64)
		if err != nil {
			return 0, "", &ConventionError{Convention: what, Source: "source metadata " + metaPositionOffset,
				Problem: fmt.Sprintf("%q is not an integer", src.meta[metaPositionOffset])}
		}
		offset, reason = v, "source metadata "+metaPositionOffset
	case slices.Contains([]string{"opt", "bart", "mbart", "plbart", "biogpt"}, src.modelType):
		offset, reason = 2, "config.json model_type "+src.modelType+": learned positions start at row 2"
	}
	switch {
	case positions == 0 && offset != 0 && src.spec.PositionOffset != nil:
		return 0, "", &ConventionError{Convention: what, Source: reason,
			Problem: fmt.Sprintf("%d was given, but the import has no positional table", offset)}
	case positions > 0 && (offset < 0 || offset >= positions):
		return 0, "", &ConventionError{Convention: what, Source: reason,
			Problem: fmt.Sprintf("%d does not fit the %d-row positional table", offset, positions)}
	}
	return offset, reason, nil
}

// computeDType decides the precision the model computes in: the spec's,
// embstore's key, config.json's dtype (torch_dtype before transformers 5),
// else the token tensor's own dtype when it is 16-bit. 0 is f32.
func (src *conventionSources) computeDType() (format.DType, string, error) {
	switch {
	case src.spec.ComputeDType != nil:
		d := *src.spec.ComputeDType
		if d == format.F32 {
			d = 0
		}
		if d != 0 && d != format.F16 && d != format.BF16 {
			return 0, "", &SpecError{Field: "ImportSpec.ComputeDType", Value: d, Problem: "want F32 (or 0: no rounding), F16 or BF16"}
		}
		return d, source(src.spec.GivenBy.ComputeDType, "ComputeDType"), nil
	case src.meta[metaComputeDType] != "":
		d, err := parseComputeDType(src.meta[metaComputeDType])
		if err != nil {
			return 0, "", &ConventionError{Convention: "compute dtype", Source: "source metadata " + metaComputeDType, Problem: err.Error()}
		}
		return d, "source metadata " + metaComputeDType, nil
	case configString(src.cfg, "dtype") != "" || configString(src.cfg, "torch_dtype") != "":
		name := configString(src.cfg, "dtype")
		if name == "" {
			name = configString(src.cfg, "torch_dtype")
		}
		return torchDTypeCompute(name), "config.json dtype " + name, nil
	}
	switch src.srcDType {
	case safetensors.F16:
		return format.F16, "the token tensor's dtype", nil
	case safetensors.BF16:
		return format.BF16, "the token tensor's dtype", nil
	}
	return 0, "", nil
}

// tokenScale decides the factor token rows are multiplied by: the spec's,
// embstore's key, Gemma's sqrt(hidden_size) rounded to the compute dtype,
// or BART's sqrt(d_model) with scale_embedding; 1 for none.
func (src *conventionSources) tokenScale(compute format.DType) (float32, string, error) {
	const what = "token scale"
	scale, reason := 1.0, ""
	roundScale := false
	switch {
	case src.spec.Scale != nil:
		scale, reason = *src.spec.Scale, source(src.spec.GivenBy.Scale, "Scale")
	case src.meta[metaTokenScale] != "":
		v, err := strconv.ParseFloat(src.meta[metaTokenScale], 32)
		if err != nil {
			return 0, "", &ConventionError{Convention: what, Source: "source metadata " + metaTokenScale,
				Problem: fmt.Sprintf("%q is not a number", src.meta[metaTokenScale])}
		}
		scale, reason = v, "source metadata "+metaTokenScale
	case strings.HasPrefix(src.modelType, "gemma"):
		h := configInt(src.cfg, "hidden_size")
		if h <= 0 {
			return 0, "", &ConventionError{Convention: what, Source: "config.json model_type " + src.modelType,
				Problem: "config.json has no hidden_size to scale embeddings by"}
		}
		// transformers: normalizer = torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype)
		scale, reason, roundScale = math.Sqrt(float64(h)), fmt.Sprintf("config.json model_type %s: sqrt(hidden_size %d) in the compute dtype", src.modelType, h), true
	case src.cfg["scale_embedding"] == true:
		d := configInt(src.cfg, "d_model")
		if d <= 0 {
			return 0, "", &ConventionError{Convention: what, Source: "config.json scale_embedding",
				Problem: "config.json sets scale_embedding but has no d_model"}
		}
		// transformers (BART family): embed_scale = math.sqrt(d_model), a
		// Python float, which torch applies as an f32 scalar.
		scale, reason = math.Sqrt(float64(d)), fmt.Sprintf("config.json scale_embedding: sqrt(d_model %d)", d)
	}
	if scale == 1 {
		return 1, "", nil
	}
	s32 := float32(scale)
	if math.IsInf(float64(s32), 0) || math.IsNaN(scale) || s32 == 0 {
		return 0, "", &ConventionError{Convention: what, Source: reason, Problem: fmt.Sprintf("%v is not a finite, non-zero float32", scale)}
	}
	if roundScale {
		s32 = kernel.Round(s32, compute)
	}
	return s32, reason, nil
}

// torchDTypeCompute maps a torch dtype name from config.json to the compute
// dtype of a table: float16 and bfloat16 round, anything else is f32.
func torchDTypeCompute(name string) format.DType {
	switch strings.TrimPrefix(name, "torch.") {
	case "float16", "half":
		return format.F16
	case "bfloat16":
		return format.BF16
	}
	return 0
}

func parseComputeDType(s string) (format.DType, error) {
	switch s {
	case "f32":
		return 0, nil
	case "f16":
		return format.F16, nil
	case "bf16":
		return format.BF16, nil
	}
	return 0, fmt.Errorf("unknown compute dtype %q (want f32, f16 or bf16)", s)
}

func configString(cfg map[string]any, key string) string {
	s, _ := cfg[key].(string)
	return s
}

func configInt(cfg map[string]any, key string) int64 {
	if v, ok := cfg[key].(float64); ok && v == math.Trunc(v) {
		return int64(v)
	}
	return 0
}
