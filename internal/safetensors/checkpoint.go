package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File names that OpenCheckpoint looks for in a directory, as Hugging Face
// transformers names them.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
	ConfigFileName = "config.json"
)

// A Checkpoint is a set of safetensors weights: one file, or the shards of
// a sharded checkpoint listed by its index, with the config.json beside
// them.
//
// Like File, a Checkpoint is safe for concurrent use except Close.
type Checkpoint struct {
	// Path is the weights file or index that was opened.
	Path string
	// Sharded reports whether Path is an index of shards.
	Sharded bool
	// Files holds the open weights: the single file, or every shard the
	// index names, sorted by file name.
	Files []*File
	// IndexMetadata is the index's "metadata" object as raw JSON (for
	// transformers, {"total_size": ...}); nil if there is none.
	IndexMetadata json.RawMessage
	// Config is config.json from the directory of Path, or nil if there is
	// none or it could not be read.
	Config *Config
	// ConfigPath is the path of config.json if the directory has one, ""
	// otherwise.
	ConfigPath string
	// ConfigErr says why config.json could not be read, if it exists but
	// is not a readable, well-formed JSON object whose known fields have
	// their types (Config is then nil). A malformed config.json does not
	// stop OpenCheckpoint: whether it matters depends on what the caller
	// needs from it.
	ConfigErr error
}

// A CheckpointTensor describes a tensor of a checkpoint and the file that
// holds it.
type CheckpointTensor struct {
	TensorInfo
	File string // the path of the file holding the tensor
}

// OpenCheckpoint opens the safetensors checkpoint at src, which is one of:
//
//   - a .safetensors file;
//   - a sharded checkpoint's index (a file whose name ends in .json, such
//     as model.safetensors.index.json), whose weight_map maps each tensor
//     name to a shard file in the same directory;
//   - a directory holding either. It is looked up in this order, the order
//     Hugging Face transformers uses: model.safetensors, then
//     model.safetensors.index.json; failing those, the directory's only
//     *.safetensors.index.json, then its only *.safetensors file. If a
//     step finds several candidates the choice is ambiguous and
//     OpenCheckpoint fails with ErrNoCheckpoint.
//
// Every file is validated as Open does. An index must be a JSON object
// without duplicate keys whose "weight_map" maps tensor names to plain
// .safetensors file names in the index's directory (no directories, no
// absolute paths, no "..": ErrShardName); other top-level keys are
// ignored. Every mapped tensor must be in its shard and every tensor of a
// shard must be mapped to that shard (ErrIndexMismatch), so that a tensor
// name means the same bytes to every reader.
//
// A config.json in the same directory is read if present (see Config); if
// it cannot be read, ConfigErr says why and the checkpoint still opens.
func OpenCheckpoint(src string) (*Checkpoint, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	path := src
	if fi.IsDir() {
		if path, err = pickCheckpoint(src); err != nil {
			return nil, err
		}
	}
	c := &Checkpoint{Path: path, Sharded: strings.HasSuffix(path, ".json")}
	if c.Sharded {
		err = c.openIndex()
	} else {
		var f *File
		if f, err = Open(path); err == nil {
			c.Files = []*File{f}
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	cfg := filepath.Join(filepath.Dir(path), ConfigFileName)
	if _, serr := os.Lstat(cfg); serr == nil {
		c.ConfigPath = cfg
		c.Config, c.ConfigErr = readConfig(cfg)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// pickCheckpoint chooses the weights in a directory.
func pickCheckpoint(dir string) (string, error) {
	for _, name := range []string{SingleFileName, IndexFileName} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var indexes, weights []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		switch {
		case strings.HasSuffix(e.Name(), ".safetensors.index.json"):
			indexes = append(indexes, e.Name())
		case strings.HasSuffix(e.Name(), ".safetensors"):
			weights = append(weights, e.Name())
		}
	}
	fail := func(detail string) error {
		return &FormatError{File: dir, Offset: -1, Err: ErrNoCheckpoint, Detail: detail}
	}
	switch {
	case len(indexes) == 1:
		return filepath.Join(dir, indexes[0]), nil
	case len(indexes) > 1:
		return "", fail("several indexes, name one: " + strings.Join(indexes, ", "))
	case len(weights) == 1:
		return filepath.Join(dir, weights[0]), nil
	case len(weights) > 1:
		return "", fail("several .safetensors files and no index, name one: " + strings.Join(weights, ", "))
	}
	return "", fail("no " + SingleFileName + ", " + IndexFileName + " or other .safetensors file")
}

// openIndex reads the index at c.Path and opens and cross-checks its shards.
func (c *Checkpoint) openIndex() error {
	b, err := readJSONFile(c.Path)
	if err != nil {
		return err
	}
	fail := func(err error, tensor, detail string) error {
		return &FormatError{File: c.Path, Offset: -1, Tensor: tensor, Err: err, Detail: detail}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return fail(ErrIndex, "", err.Error())
	}
	if raw, ok := top["metadata"]; ok {
		if len(raw) == 0 || raw[0] != '{' {
			return fail(ErrIndex, "", "metadata is not an object")
		}
		c.IndexMetadata = raw
	}
	rawMap, ok := top["weight_map"]
	if !ok {
		return fail(ErrIndex, "", "no weight_map")
	}
	var entries map[string]json.RawMessage
	if len(rawMap) == 0 || rawMap[0] != '{' || json.Unmarshal(rawMap, &entries) != nil {
		return fail(ErrIndex, "", "weight_map is not an object")
	}
	if len(entries) == 0 {
		return fail(ErrIndex, "", "weight_map is empty")
	}
	names := slices.Sorted(maps.Keys(entries))
	weightMap := make(map[string]string, len(entries))
	shardSet := make(map[string]bool)
	for _, name := range names {
		var shard string
		raw := entries[name]
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &shard) != nil {
			return fail(ErrIndex, name, "weight_map value is not a string")
		}
		if why := badShardName(shard); why != "" {
			return fail(ErrShardName, name, quote(shard)+" "+why)
		}
		weightMap[name] = shard
		shardSet[shard] = true
	}
	dir := filepath.Dir(c.Path)
	shards := make(map[string]*File)
	for _, shard := range slices.Sorted(maps.Keys(shardSet)) {
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			return err
		}
		c.Files = append(c.Files, f)
		shards[shard] = f
	}
	for _, name := range names {
		shard := weightMap[name]
		if _, err := shards[shard].Tensor(name); err != nil {
			return fail(ErrIndexMismatch, name, "mapped to "+quote(shard)+", which does not hold it")
		}
	}
	for _, f := range c.Files {
		shard := filepath.Base(f.Name)
		for _, t := range f.Tensors {
			switch mapped, ok := weightMap[t.Name]; {
			case !ok:
				return fail(ErrIndexMismatch, t.Name, "in shard "+quote(shard)+" but not in the weight_map")
			case mapped != shard:
				return fail(ErrIndexMismatch, t.Name, "in shard "+quote(shard)+" but mapped to "+quote(mapped))
			}
		}
	}
	return nil
}

// badShardName says why name is not a plain .safetensors file name in the
// index's own directory, or returns "".
func badShardName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case strings.ContainsAny(name, `/\`):
		return "has a path separator; shards must be in the index's directory"
	case strings.ContainsRune(name, 0):
		return "has a NUL byte"
	case name == "." || name == ".." || !filepath.IsLocal(name) || filepath.Base(name) != name:
		return "is not a plain file name"
	case !strings.HasSuffix(name, ".safetensors") || name == ".safetensors":
		return "does not name a .safetensors file"
	case len(name) > 255:
		return "is longer than 255 bytes"
	}
	return ""
}

// Close closes every file of the checkpoint and returns the first error.
// It must not be called while another goroutine reads the checkpoint.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.Files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Tensors lists every tensor of the checkpoint, sorted by name.
func (c *Checkpoint) Tensors() []CheckpointTensor {
	ts := make([]CheckpointTensor, 0, c.NumTensors())
	for t := range c.All() {
		ts = append(ts, t)
	}
	return ts
}

// NumTensors returns how many tensors the checkpoint holds.
func (c *Checkpoint) NumTensors() int {
	n := 0
	for _, f := range c.Files {
		n += len(f.Tensors)
	}
	return n
}

// All yields every tensor of the checkpoint sorted by name, without
// building the list: for checkpoints of millions of tensors.
func (c *Checkpoint) All() iter.Seq[CheckpointTensor] {
	return func(yield func(CheckpointTensor) bool) {
		type ref struct{ file, index int32 }
		refs := make([]ref, 0, c.NumTensors())
		for fi, f := range c.Files {
			for ti := range f.Tensors {
				refs = append(refs, ref{int32(fi), int32(ti)})
			}
		}
		name := func(r ref) string { return c.Files[r.file].Tensors[r.index].Name }
		byName := func(a, b ref) int { return strings.Compare(name(a), name(b)) }
		if !slices.IsSortedFunc(refs, byName) {
			slices.SortFunc(refs, byName)
		}
		for _, r := range refs {
			f := c.Files[r.file]
			if !yield(CheckpointTensor{TensorInfo: f.Tensors[r.index], File: f.Name}) {
				return
			}
		}
	}
}

// Tensor returns the named tensor and the file that holds it, or an error
// wrapping ErrTensorNotFound. The results must not be modified.
func (c *Checkpoint) Tensor(name string) (*File, *TensorInfo, error) {
	for _, f := range c.Files {
		if i, ok := f.index[name]; ok {
			return f, &f.Tensors[i], nil
		}
	}
	return nil, nil, &FormatError{File: c.Path, Offset: -1, Tensor: name, Err: ErrTensorNotFound}
}

// Rows returns a RowReader over the named 2-D tensor; see File.Rows.
func (c *Checkpoint) Rows(name string) (*RowReader, error) {
	f, _, err := c.Tensor(name)
	if err != nil {
		return nil, err
	}
	return f.Rows(name)
}

// RowsAs returns a RowReader over the named tensor viewed as rows x cols;
// see File.RowsAs.
func (c *Checkpoint) RowsAs(name string, rows, cols int64) (*RowReader, error) {
	f, _, err := c.Tensor(name)
	if err != nil {
		return nil, err
	}
	return f.RowsAs(name, rows, cols)
}

// A Config holds the fields of a Hugging Face config.json that the importer
// uses; Raw keeps the whole file for anything else.
type Config struct {
	// Raw is the file's content. It has been checked to be one JSON object
	// without duplicate keys.
	Raw []byte
	// ModelType is "model_type" ("gpt2", "bert", "llama", "opt",
	// "gemma", ...), or "" if absent.
	ModelType string
	// Architectures is "architectures", or nil if absent.
	Architectures []string
	// HiddenSize is "hidden_size", or 0 if absent (GPT-2 calls it n_embd;
	// see Raw).
	HiddenSize int64
	// VocabSize is "vocab_size", or 0 if absent.
	VocabSize int64
	// MaxPositionEmbeddings is "max_position_embeddings", or 0 if absent.
	MaxPositionEmbeddings int64
}

// readConfig reads the config.json at path; it returns nil, nil if there is
// no such file.
func readConfig(path string) (*Config, error) {
	b, err := readJSONFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, &FormatError{File: path, Offset: -1, Err: ErrConfig, Detail: err.Error()}
	}
	c := &Config{Raw: b}
	for _, f := range []struct {
		key string
		dst any
	}{
		{"model_type", &c.ModelType},
		{"architectures", &c.Architectures},
		{"hidden_size", &c.HiddenSize},
		{"vocab_size", &c.VocabSize},
		{"max_position_embeddings", &c.MaxPositionEmbeddings},
	} {
		raw, ok := top[f.key]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := decodeConfigField(raw, f.dst); err != nil {
			return nil, &FormatError{File: path, Offset: -1, Field: f.key, Err: ErrConfig, Detail: err.Error()}
		}
	}
	return c, nil
}

// decodeConfigField decodes one config value strictly: integers must be
// non-negative integers within MaxSize, strings strings.
func decodeConfigField(raw json.RawMessage, dst any) error {
	switch dst := dst.(type) {
	case *int64:
		if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
			return errors.New("value is not a non-negative integer")
		}
		v, why := nonNegInt(json.Number(raw))
		if why != "" {
			return errors.New("value " + why)
		}
		*dst = v
		return nil
	case *string:
		if len(raw) == 0 || raw[0] != '"' {
			return errors.New("value is not a string")
		}
		return json.Unmarshal(raw, dst)
	case *[]string:
		if err := json.Unmarshal(raw, dst); err != nil {
			return errors.New("value is not an array of strings")
		}
		return nil
	}
	return fmt.Errorf("cannot decode into %T", dst)
}
