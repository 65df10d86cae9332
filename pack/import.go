package pack

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/safetensors"
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
	// its embeddings in (F32 or 0 for no rounding, F16, BF16), which
	// otherwise comes from config.json's dtype, or the token tensor's dtype
	// when it is 16-bit.
	ComputeDType *format.DType
	// Tokenizer is a tokenizer to store in the table (a file or a
	// directory, read as tokenizer.FromDir reads one); "" takes the one
	// beside the weights, if there is one, and NoTokenizer stores none.
	// The table then has a vocabulary section (the token of every id the
	// tokenizer defines) and a tokenizer section (the canonical
	// tokenizer.json). A tokenizer that the tokenizer package refuses, or
	// with an id past the token table's rows, fails the import
	// (*TokenizerError).
	Tokenizer   string
	NoTokenizer bool
	// GivenBy names, in the table's metadata, where the conventions given
	// above came from (the *_source keys of "import"): embpack records its
	// flags ("--scale"). An empty name records the field's, as
	// "ImportSpec.Scale".
	GivenBy GivenBy
}

// GivenBy names the source of each convention an ImportSpec gives.
type GivenBy struct {
	PositionOffset, Scale, ComputeDType string
}

// source returns name, or the field's name if it is empty.
func source(name, field string) string {
	if name == "" {
		return "ImportSpec." + field
	}
	return name
}

// ParseComputeDType parses a compute dtype name: "f32" (no rounding,
// returned as 0), "f16" or "bf16".
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
	// need and could not read, pooling files it could not use). They are
	// not recorded in the table.
	Warnings []string `json:"-"`
	// Tokenizer, Vocabulary and Pooling are what the table's metadata
	// records under those keys (nil if absent); TokenizerPath is where the
	// tokenizer was read from, and TokenizerIDs how many ids it defines.
	Tokenizer     *TokenizerInfo  `json:"-"`
	Vocabulary    *VocabularyInfo `json:"-"`
	Pooling       *Pooling        `json:"-"`
	TokenizerPath string          `json:"-"`
	TokenizerIDs  int             `json:"-"`
}

// A SourceFile is a file an import read, identified by its SHA-256.
type SourceFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Import writes the embedding table of a safetensors checkpoint to dst,
// atomically, and returns what it recorded in the table's metadata. Values
// are converted to float32 exactly as torch's .float() does (exact for
// F32, F16, BF16 and the F8 types, round-to-nearest-even for F64), then
// stored as spec.DType. The model's conventions (position offset, token
// scale, compute dtype) come from the spec, else from embstore's own keys
// in the source's __metadata__ (a table Export wrote), else from
// config.json beside the weights; the metadata records each and where it
// came from. The tokenizer beside the weights, or spec.Tokenizer, is stored
// with the table (see ImportSpec.Tokenizer), and the pooling that
// sentence-transformers' or model2vec's files give is recorded. dst must
// not be any file the import reads.
func Import(ctx context.Context, dst string, spec ImportSpec, o *Options) (*ImportInfo, error) {
	o = opts(o)
	if spec.DType != 0 && !spec.DType.Valid() {
		return nil, &SpecError{Field: "ImportSpec.DType", Value: spec.DType, Problem: "want F32, F16, BF16 or Int8"}
	}
	if spec.NoPositions && spec.PositionsTensor != "" {
		return nil, &SpecError{Field: "ImportSpec.PositionsTensor", Value: spec.PositionsTensor, Problem: "names a positional table, and NoPositions says there is none"}
	}
	if spec.NoTokenizer && spec.Tokenizer != "" {
		return nil, &SpecError{Field: "ImportSpec.Tokenizer", Value: spec.Tokenizer, Problem: "names a tokenizer, and NoTokenizer says there is none"}
	}
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
		return nil, fmt.Errorf("pack: tensor %q of shape %v: want 1 to %d rows of 1 to %d values", tokName, tokInfo.Shape, int64(format.MaxRows), format.MaxDim)
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
				return nil, fmt.Errorf("pack: positional tensor %q has rows of %d values, the token table's have %d", posName, positions.Cols(), dim)
			}
			if positions.Rows() > format.MaxPositions {
				return nil, fmt.Errorf("pack: positional tensor %q has %d rows; at most %d are supported", posName, positions.Rows(), format.MaxPositions)
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
	var tok *attached
	if !spec.NoTokenizer {
		path := spec.Tokenizer
		if path == "" && hasTokenizerFiles(filepath.Dir(ck.Path)) {
			path = filepath.Dir(ck.Path)
		}
		if path != "" {
			if tok, err = readTokenizer(path, layout.Rows); err != nil {
				return nil, err
			}
			layout.Vocabulary = true
			info.Tokenizer, info.Vocabulary, info.TokenizerPath, info.TokenizerIDs = &tok.info, tok.vocab, path, tok.tk.VocabSize()
		}
	}
	var warnings []string
	info.Pooling, warnings = readPooling(ck)
	info.Warnings = append(info.Warnings, warnings...)
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
	if tok != nil {
		inputs = append(inputs, tok.files...)
	}
	fw, err := create(dst, layout, o, inputs...)
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	count := o.counter(layout.Rows + layout.Positions)
	if err := streamTensor(ctx, tokens, fw.WriteTokens, count.add); err != nil {
		return nil, errctx.In("embstore", fmt.Sprintf("tensor %q", tokName), err)
	}
	if positions != nil {
		if err := streamTensor(ctx, positions, fw.WritePositions, count.add); err != nil {
			return nil, errctx.In("embstore", fmt.Sprintf("tensor %q", posName), err)
		}
	}
	if tok != nil {
		if err := tok.write(fw); err != nil {
			return nil, err
		}
	}
	info.MaxAbsError = fw.MaxError()
	prov := &Provenance{Creator: o.creator(), Source: "safetensors", Import: info,
		Pooling: info.Pooling, Tokenizer: info.Tokenizer, Vocabulary: info.Vocabulary}
	if err := setProvenance(fw, prov); err != nil {
		return nil, err
	}
	return info, fw.Commit()
}

// streamTensor copies a tensor's rows, converted to float32, to write in
// chunks of about 1 MiB.
func streamTensor(ctx context.Context, rr *safetensors.RowReader, write func([]float32) error, done func(int64)) error {
	cols := rr.Cols()
	return stream(ctx, rr.Rows(), rowsStep(cols), cols,
		func(buf []float32, first, n int64) error { return rr.ReadRows(buf, first, n) },
		write, done)
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
		rr, err := ck.RowsAs(name, shape[0], shape[1])
		if errors.Is(err, safetensors.ErrNotMatrix) {
			return nil, &SpecError{Field: "ImportSpec.Shape", Value: fmt.Sprintf("%dx%d", shape[0], shape[1]), Err: err, Problem: errctx.Strip(err.Error())}
		}
		return rr, err
	}
	rr, err := ck.Rows(name)
	if errors.Is(err, safetensors.ErrNotMatrix) {
		return nil, &SpecError{Field: "ImportSpec.Shape", Value: "not given", Err: err,
			Problem: fmt.Sprintf("%v; say how to read it as rows x values", errctx.Strip(err.Error()))}
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
