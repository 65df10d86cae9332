package pack

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/safetensors"
	"github.com/embstore/embstore/kernel"
)

// An ImportSpec says what to import from a safetensors checkpoint.
type ImportSpec struct {
	// Src is a .safetensors file, a sharded checkpoint's index, or a
	// directory holding either.
	Src string
	// Tensor names the token table; "" finds it by the names real models
	// use (see TokenTensorNames).
	Tensor string
	// Shape, if not zero, reads Tensor as Shape[0] rows of Shape[1] values,
	// whatever its rank (a 1-D tensor, or a 3-D one), as long as the element
	// counts agree.
	Shape [2]int64
	// PositionsTensor names the positional table; "" finds it by name (see
	// PositionTensorNames), and NoPositions skips it.
	PositionsTensor string
	NoPositions     bool
	// DType is the table's storage dtype; zero means F32.
	DType format.DType
	// PositionOffset, if not nil, overrides the position offset the model's
	// config implies (OPT and BART: 2).
	PositionOffset *int64
	// Scale, if not nil, overrides the token scale the model's config
	// implies (Gemma: sqrt(hidden_size)).
	Scale *float64
	// ComputeDType, if not nil, overrides the precision the model computes
	// its embeddings in (0 for f32, F16, BF16), which otherwise comes from
	// config.json's dtype, or the token tensor's dtype when it is 16-bit.
	ComputeDType *format.DType
	WriteOptions
}

// ParseComputeDType parses a compute dtype name: "f32" (no rounding), "f16"
// or "bf16".
func ParseComputeDType(s string) (format.DType, error) { return parseComputeDType(s) }

// TokenTensorNames are the tensor names, and name suffixes after a ".",
// that identify a token table, as models on the Hugging Face hub name them.
var TokenTensorNames = []string{
	"wte.weight",             // GPT-2, GPT-J, GPT-Neo: transformer.wte.weight
	"embed_tokens.weight",    // LLaMA, Mistral, Qwen, Gemma, Phi-3: model.embed_tokens.weight; OPT, BART
	"word_embeddings.weight", // BERT, RoBERTa, DistilBERT, BLOOM: embeddings.word_embeddings.weight
	"tok_embeddings.weight",  // Meta's original LLaMA checkpoints
	"embed_in.weight",        // GPT-NeoX, Pythia: gpt_neox.embed_in.weight
	"shared.weight",          // T5, BART: the shared encoder/decoder table
	"embeddings",             // model2vec: embeddings
	"embedding.weight",       // sentence-transformers StaticEmbedding
	"embeddings.weight",      // tables exported by embpack
}

// PositionTensorNames are the tensor names, and name suffixes after a ".",
// that identify a learned positional table.
var PositionTensorNames = []string{
	"wpe.weight",                 // GPT-2, GPT-Neo: transformer.wpe.weight
	"position_embeddings.weight", // BERT, RoBERTa, DistilBERT; tables exported by embpack
	"embed_positions.weight",     // OPT, BART: model.decoder.embed_positions.weight
}

// matchesName reports whether tensor name is one of names or ends with "."
// followed by one of them.
func matchesName(name string, names []string) bool {
	for _, n := range names {
		if name == n || strings.HasSuffix(name, "."+n) {
			return true
		}
	}
	return false
}

// ImportInfo is the "import" metadata of an imported table: where the values
// came from and what was done to them.
type ImportInfo struct {
	Format          string            `json:"format"` // "safetensors"
	Source          string            `json:"source"` // the path given, base name only
	Files           []SourceFile      `json:"files"`
	Tensor          string            `json:"tensor"`
	TensorDType     string            `json:"tensor_dtype"`
	TensorShape     []int64           `json:"tensor_shape"`
	PositionsTensor string            `json:"positions_tensor,omitempty"`
	PositionsDType  string            `json:"positions_dtype,omitempty"`
	PositionsShape  []int64           `json:"positions_shape,omitempty"`
	Conversion      string            `json:"conversion"`
	ModelType       string            `json:"model_type,omitempty"`
	PositionOffset  int64             `json:"position_offset"`
	PositionReason  string            `json:"position_offset_source,omitempty"`
	TokenScale      float32           `json:"token_scale"`
	ScaleReason     string            `json:"token_scale_source,omitempty"`
	ComputeDType    string            `json:"compute_dtype,omitempty"`
	ComputeReason   string            `json:"compute_dtype_source,omitempty"`
	MaxAbsError     float64           `json:"max_abs_error"`
	SourceMetadata  map[string]string `json:"source_metadata,omitempty"`

	// Warnings are problems the import went past (a config.json it did not
	// need and could not read). They are not recorded in the table.
	Warnings []string `json:"-"`
}

// A SourceFile is a file an import read, identified by its SHA-256.
type SourceFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ErrNoTable is wrapped by a *ChoiceError, returned when the token or
// positional table cannot be found unambiguously.
var ErrNoTable = errors.New("cannot choose the table to import")

// A ChoiceError says why the token or positional table of a checkpoint could
// not be chosen: the named tensor does not exist, no tensor has a known name,
// the tensors with a known name cannot be used (Rejected says why), or
// several could be. It wraps ErrNoTable.
type ChoiceError struct {
	Table      string   // "token" or "positional"
	Problem    string   // what went wrong
	Rejected   []string // tensors with a known name that were refused, each with the reason
	Candidates string   // the checkpoint's 2-D tensors, for choosing one
}

func (e *ChoiceError) Error() string {
	msg := fmt.Sprintf("%v: %s", ErrNoTable, e.Problem)
	if len(e.Rejected) > 0 {
		msg += " (" + strings.Join(e.Rejected, "; ") + ")"
	}
	if e.Candidates != "" {
		msg += "; " + e.Candidates
	}
	return msg
}

// Unwrap returns ErrNoTable.
func (e *ChoiceError) Unwrap() error { return ErrNoTable }

// Import writes the embedding table of a safetensors checkpoint to dst,
// atomically, and returns what it recorded in the table's metadata. Values
// are converted to float32 exactly as torch's .float() does (exact for
// F32, F16, BF16 and the F8 types, round-to-nearest-even for F64), then
// stored as spec.DType.
func Import(dst string, spec ImportSpec, progress Progress) (*ImportInfo, error) {
	ck, err := safetensors.OpenCheckpoint(spec.Src)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	tokName, err := chooseTensor(ck, spec.Tensor, TokenTensorNames, "token", nil, false)
	if err != nil {
		return nil, err
	}
	tokens, err := openRows(ck, tokName, spec.Shape)
	if err != nil {
		return nil, err
	}
	_, tokInfo, _ := ck.Tensor(tokName)
	dim := tokens.Cols()
	if dim < 1 || dim > format.MaxDim || tokens.Rows() < 1 || tokens.Rows() > format.MaxRows {
		return nil, fmt.Errorf("tensor %q of shape %v: want 1 to %d rows of 1 to %d values", tokName, tokInfo.Shape, int64(format.MaxRows), format.MaxDim)
	}

	var positions *safetensors.RowReader
	var posName string
	var posInfo *safetensors.TensorInfo
	if !spec.NoPositions {
		// A positional table with a known name that does not fit (another
		// width, another rank, a dtype that does not convert) is an error,
		// not a silent import without positions: NoPositions says that.
		posName, err = chooseTensor(ck, spec.PositionsTensor, PositionTensorNames, "positional", &dim, true)
		if err != nil {
			return nil, err
		}
		if posName != "" {
			if positions, err = ck.Rows(posName); err != nil {
				return nil, err
			}
			_, posInfo, _ = ck.Tensor(posName)
			if positions.Cols() != dim {
				return nil, fmt.Errorf("positional tensor %q has rows of %d values, the token table's have %d", posName, positions.Cols(), dim)
			}
			if positions.Rows() > format.MaxPositions {
				return nil, fmt.Errorf("positional tensor %q has %d rows; at most %d are supported", posName, positions.Rows(), format.MaxPositions)
			}
		}
	}

	info := &ImportInfo{
		Format: "safetensors", Source: filepath.Base(spec.Src),
		Tensor: tokName, TensorDType: string(tokInfo.DType), TensorShape: tokInfo.Shape,
		Conversion: conversionText(tokInfo.DType, spec.DType),
	}
	if ck.Config != nil {
		info.ModelType = ck.Config.ModelType
	}
	if posInfo != nil {
		info.PositionsTensor, info.PositionsDType, info.PositionsShape = posName, string(posInfo.DType), posInfo.Shape
	}
	layout := format.Layout{Rows: tokens.Rows(), Dim: int(dim), DType: spec.DType}
	if positions != nil {
		layout.Positions = positions.Rows()
	}
	if err := applyConventions(ck, spec, tokInfo.DType, &layout, info); err != nil {
		return nil, err
	}
	for _, f := range ck.Files {
		sum, err := f.SHA256()
		if err != nil {
			return nil, err
		}
		info.Files = append(info.Files, SourceFile{Name: filepath.Base(f.Name), Size: f.Size, SHA256: hex.EncodeToString(sum[:])})
		for k, v := range f.Metadata {
			if info.SourceMetadata == nil {
				info.SourceMetadata = map[string]string{}
			}
			info.SourceMetadata[k] = v
		}
	}

	// The destination must not be any file the import reads: a shard, the
	// index, config.json.
	inputs := []string{ck.Path}
	for _, f := range ck.Files {
		inputs = append(inputs, f.Name)
	}
	if ck.ConfigPath != "" {
		inputs = append(inputs, ck.ConfigPath)
	}
	fw, err := create(dst, layout, spec.WriteOptions, inputs...)
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	total := layout.Rows + layout.Positions
	done := int64(0)
	report := func(n int64) { done += n; progress.report(done, total) }
	if err := streamRows(tokens, fw.WriteTokens, report); err != nil {
		return nil, errctx.In("embstore", fmt.Sprintf("tensor %q", tokName), err)
	}
	if positions != nil {
		if err := streamRows(positions, fw.WritePositions, report); err != nil {
			return nil, errctx.In("embstore", fmt.Sprintf("tensor %q", posName), err)
		}
	}
	info.MaxAbsError = fw.MaxError()
	if err := setProvenance(fw, &format.Provenance{Creator: Creator, Source: "safetensors", Import: info}); err != nil {
		return nil, err
	}
	return info, fw.Commit()
}

// chooseTensor returns the tensor named name, or, if name is "", the only
// tensor whose name matches names that can be used: 2-D, of a dtype that
// converts to float32, and (if dim is not nil) with rows of *dim values. It
// returns "" and no error when no tensor has a matching name and optional
// is set (a checkpoint without a positional table); a tensor with a
// matching name that cannot be used is an error either way, saying why.
func chooseTensor(ck *safetensors.Checkpoint, name string, names []string, what string, dim *int64, optional bool) (string, error) {
	fail := func(problem string, rejected []string) error {
		return &ChoiceError{Table: what, Problem: problem, Rejected: rejected, Candidates: listCandidates(ck)}
	}
	if name != "" {
		if _, _, err := ck.Tensor(name); err != nil {
			return "", fail(fmt.Sprintf("the %s table %q is not in the checkpoint", what, name), nil)
		}
		return name, nil
	}
	var found, rejected []string
	for _, t := range ck.Tensors() {
		if !matchesName(t.Name, names) {
			continue
		}
		switch {
		case len(t.Shape) != 2:
			rejected = append(rejected, fmt.Sprintf("%s has shape %v, not 2-D", t.Name, t.Shape))
		case !t.DType.Float32Convertible():
			rejected = append(rejected, fmt.Sprintf("%s is %s, which does not convert to float32 (F32, F16, BF16, F64, F8_E4M3 and F8_E5M2 do)", t.Name, t.DType))
		case dim != nil && t.Shape[1] != *dim:
			rejected = append(rejected, fmt.Sprintf("%s has rows of %d values, the token table's have %d", t.Name, t.Shape[1], *dim))
		default:
			found = append(found, t.Name)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", &ChoiceError{Table: what, Problem: fmt.Sprintf("several tensors could be the %s table: %s", what, strings.Join(found, ", "))}
	case len(rejected) > 0:
		return "", fail(fmt.Sprintf("no tensor with a known %s-table name can be used", what), rejected)
	case optional:
		return "", nil
	}
	return "", fail(fmt.Sprintf("no tensor has a known %s-table name", what), nil)
}

// listCandidates describes the 2-D tensors of a checkpoint for an error
// message.
func listCandidates(ck *safetensors.Checkpoint) string {
	var c []string
	for _, t := range ck.Tensors() {
		if len(t.Shape) == 2 {
			c = append(c, fmt.Sprintf("%s %s %v", t.Name, t.DType, t.Shape))
		}
	}
	if len(c) == 0 {
		return "the checkpoint has no 2-D tensor"
	}
	const most = 20
	more := ""
	if len(c) > most {
		more = fmt.Sprintf(", and %d more", len(c)-most)
		c = c[:most]
	}
	return "2-D tensors: " + strings.Join(c, "; ") + more
}

// openRows opens a tensor as rows: as it is if 2-D, or reshaped by shape.
func openRows(ck *safetensors.Checkpoint, name string, shape [2]int64) (*safetensors.RowReader, error) {
	if shape != [2]int64{} {
		return ck.RowsAs(name, shape[0], shape[1])
	}
	rr, err := ck.Rows(name)
	if errors.Is(err, safetensors.ErrNotMatrix) {
		return nil, fmt.Errorf("%w; say how to read it as rows x values with --shape ROWSxDIM", err)
	}
	return rr, err
}

// conversionText describes the conversion from a source dtype to the table.
func conversionText(src safetensors.DType, dst format.DType) string {
	if dst == 0 {
		dst = format.F32
	}
	toF32 := "exact widening to f32"
	switch src {
	case safetensors.F32:
		toF32 = "f32 as stored"
	case safetensors.F64:
		toF32 = "rounded to f32, nearest even"
	}
	if dst == format.F32 {
		return fmt.Sprintf("%s: %s", src, toF32)
	}
	return fmt.Sprintf("%s: %s, then stored as %s (%s)", src, toF32, dst, map[format.DType]string{
		format.F16: "nearest even", format.BF16: "nearest even", format.Int8: "row-wise quantised",
	}[dst])
}

// applyConventions sets the position offset and token scale the model's
// conventions call for (config.json beside the weights, or embstore's own
// keys in the source metadata for a table it exported), unless the spec
// overrides them.
func applyConventions(ck *safetensors.Checkpoint, spec ImportSpec, srcDType safetensors.DType, l *format.Layout, info *ImportInfo) error {
	var cfg map[string]any
	if ck.Config != nil {
		_ = json.Unmarshal(ck.Config.Raw, &cfg)
	}
	meta := map[string]string{}
	for _, f := range ck.Files {
		for k, v := range f.Metadata {
			meta[k] = v
		}
	}
	modelType := info.ModelType
	info.TokenScale = 1

	// A config.json that cannot be read matters only if a convention has
	// to come from it: one not given by the spec nor by embstore's own keys
	// in the source metadata.
	if ck.ConfigErr != nil {
		var needs []string
		if l.Positions > 0 && spec.PositionOffset == nil && meta[metaPositionOffset] == "" {
			needs = append(needs, "position offset")
		}
		if spec.Scale == nil && meta[metaTokenScale] == "" {
			needs = append(needs, "token scale")
		}
		if spec.ComputeDType == nil && meta[metaComputeDType] == "" {
			needs = append(needs, "compute dtype")
		}
		if len(needs) > 0 {
			return &ConfigError{Err: ck.ConfigErr, Needed: needs}
		}
		info.Warnings = append(info.Warnings, fmt.Sprintf("ignored %s, which every convention was given without: %v", ck.ConfigPath, ck.ConfigErr))
	}

	// Position offset.
	offset, reason := int64(0), ""
	switch {
	case spec.PositionOffset != nil:
		offset, reason = *spec.PositionOffset, "--position-offset"
	case meta[metaPositionOffset] != "":
		v, err := strconv.ParseInt(meta[metaPositionOffset], 10, 64)
		if err != nil {
			return fmt.Errorf("source metadata %s = %q is not an integer", metaPositionOffset, meta[metaPositionOffset])
		}
		offset, reason = v, "source metadata "+metaPositionOffset
	case slices.Contains([]string{"opt", "bart", "mbart", "plbart", "biogpt"}, modelType):
		offset, reason = 2, "config.json model_type "+modelType+": learned positions start at row 2"
	}
	if l.Positions == 0 && offset != 0 && spec.PositionOffset != nil {
		return fmt.Errorf("position offset %d was given, but the import has no positional table", offset)
	}
	if l.Positions > 0 {
		if offset < 0 || offset >= l.Positions {
			return fmt.Errorf("position offset %d (%s) does not fit the %d-row positional table", offset, reason, l.Positions)
		}
		l.PositionOffset, info.PositionOffset, info.PositionReason = offset, offset, reason
	}

	// The precision the model computes in: flag, embpack's own metadata,
	// config.json's dtype (torch_dtype before transformers 5), else the
	// token tensor's own dtype when it is 16-bit.
	compute, creason := format.DType(0), ""
	switch {
	case spec.ComputeDType != nil:
		compute, creason = *spec.ComputeDType, "--compute-dtype"
	case meta[metaComputeDType] != "":
		d, err := parseComputeDType(meta[metaComputeDType])
		if err != nil {
			return fmt.Errorf("source metadata %s: %w", metaComputeDType, err)
		}
		compute, creason = d, "source metadata "+metaComputeDType
	case configString(cfg, "dtype") != "" || configString(cfg, "torch_dtype") != "":
		name := configString(cfg, "dtype")
		if name == "" {
			name = configString(cfg, "torch_dtype")
		}
		compute, creason = torchDTypeCompute(name), "config.json dtype "+name
	default:
		switch srcDType {
		case safetensors.F16:
			compute, creason = format.F16, "the token tensor's dtype"
		case safetensors.BF16:
			compute, creason = format.BF16, "the token tensor's dtype"
		}
	}
	l.ComputeDType = compute
	if compute != 0 {
		info.ComputeDType, info.ComputeReason = compute.String(), creason
	}

	// Token scale.
	scale, reason := 1.0, ""
	roundScale := false
	switch {
	case spec.Scale != nil:
		scale, reason = *spec.Scale, "--scale"
	case meta[metaTokenScale] != "":
		v, err := strconv.ParseFloat(meta[metaTokenScale], 32)
		if err != nil {
			return fmt.Errorf("source metadata %s = %q is not a number", metaTokenScale, meta[metaTokenScale])
		}
		scale, reason = v, "source metadata "+metaTokenScale
	case strings.HasPrefix(modelType, "gemma"):
		h := configInt(cfg, "hidden_size")
		if h <= 0 {
			return fmt.Errorf("config.json model_type %s has no hidden_size to scale embeddings by", modelType)
		}
		// transformers: normalizer = torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype)
		scale, reason, roundScale = math.Sqrt(float64(h)), fmt.Sprintf("config.json model_type %s: sqrt(hidden_size %d) in the compute dtype", modelType, h), true
	case cfg["scale_embedding"] == true:
		d := configInt(cfg, "d_model")
		if d <= 0 {
			return fmt.Errorf("config.json sets scale_embedding but has no d_model")
		}
		// transformers (BART family): embed_scale = math.sqrt(d_model), a
		// Python float, which torch applies as an f32 scalar.
		scale, reason = math.Sqrt(float64(d)), fmt.Sprintf("config.json scale_embedding: sqrt(d_model %d)", d)
	}
	if scale == 1 {
		return nil
	}
	s32 := float32(scale)
	if math.IsInf(float64(s32), 0) || math.IsNaN(scale) || s32 == 0 {
		return fmt.Errorf("token scale %v (%s) is not a finite, non-zero float32", scale, reason)
	}
	if roundScale {
		s32 = kernel.Round(s32, compute)
	}
	l.TokenScale = s32
	info.TokenScale, info.ScaleReason = s32, reason
	return nil
}

// A ConfigError says that config.json beside a checkpoint is needed (for the
// conventions in Needed, which nothing else gave) and cannot be read.
type ConfigError struct {
	Err    error    // why config.json cannot be read
	Needed []string // "position offset", "token scale", "compute dtype"
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("the %s must come from config.json, which cannot be used: %v", strings.Join(e.Needed, ", "), e.Err)
}

// Unwrap returns why config.json cannot be read.
func (e *ConfigError) Unwrap() error { return e.Err }

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

// Keys of the source metadata through which a table exported by embpack
// carries its position offset, token scale and compute dtype back on import.
const (
	metaPositionOffset = "embstore.position_offset"
	metaTokenScale     = "embstore.token_scale"
	metaComputeDType   = "embstore.compute_dtype"
)

func configInt(cfg map[string]any, key string) int64 {
	if v, ok := cfg[key].(float64); ok && v == math.Trunc(v) {
		return int64(v)
	}
	return 0
}

// streamRows copies a tensor's rows, converted to float32, to write in
// chunks of about 1 MiB.
func streamRows(rr *safetensors.RowReader, write func([]float32) error, done func(int64)) error {
	step := max(1, int64(chunkValues)/rr.Cols())
	buf := make([]float32, step*rr.Cols())
	for r := int64(0); r < rr.Rows(); r += step {
		n := min(step, rr.Rows()-r)
		vals := buf[:n*rr.Cols()]
		if err := rr.ReadRows(vals, r, n); err != nil {
			return err
		}
		if err := write(vals); err != nil {
			return err
		}
		done(n)
	}
	return nil
}
