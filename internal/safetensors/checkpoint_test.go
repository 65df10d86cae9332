package safetensors

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeShard writes a small F32 safetensors file holding the named 1x2
// tensors.
func writeShard(t *testing.T, path string, names ...string) {
	t.Helper()
	var ts []WriteTensor
	for _, n := range names {
		ts = append(ts, WriteTensor{Name: n, DType: F32, Shape: []int64{1, 2}, Data: bytesData(f32Bytes(1, 2))})
	}
	if err := WriteFile(path, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointIndexRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		index string
		err   error
	}{
		{"ok", `{"metadata":{"total_size":16},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"},"extra":[1,{"x":null}]}`, nil},
		{"traversal", `{"weight_map":{"a":"../s1.safetensors","b":"s2.safetensors"}}`, ErrShardName},
		{"absolute", `{"weight_map":{"a":"/tmp/s1.safetensors","b":"s2.safetensors"}}`, ErrShardName},
		{"subdirectory", `{"weight_map":{"a":"sub/s1.safetensors","b":"s2.safetensors"}}`, ErrShardName},
		{"backslash", `{"weight_map":{"a":"..\\s1.safetensors","b":"s2.safetensors"}}`, ErrShardName},
		{"dotdot", `{"weight_map":{"a":"..","b":"s2.safetensors"}}`, ErrShardName},
		{"empty shard name", `{"weight_map":{"a":"","b":"s2.safetensors"}}`, ErrShardName},
		{"not safetensors", `{"weight_map":{"a":"config.json","b":"s2.safetensors"}}`, ErrShardName},
		{"nul", `{"weight_map":{"a":"s1\u0000.safetensors","b":"s2.safetensors"}}`, ErrShardName},
		{"duplicate tensor key", `{"weight_map":{"a":"s1.safetensors","a":"s2.safetensors","b":"s2.safetensors"}}`, ErrJSONFile},
		{"duplicate top key", `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"},"weight_map":{}}`, ErrJSONFile},
		{"duplicate nested key", `{"metadata":{"x":{"y":1,"y":2}},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`, ErrJSONFile},
		{"not an object", `["weight_map"]`, ErrJSONFile},
		{"junk after", `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}} x`, ErrJSONFile},
		{"bad json", `{"weight_map":{"a":"s1.safetensors",}}`, ErrJSONFile},
		{"too deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`, ErrJSONFile},
		{"no weight_map", `{"metadata":{}}`, ErrIndex},
		{"weight_map array", `{"weight_map":["s1.safetensors"]}`, ErrIndex},
		{"weight_map empty", `{"weight_map":{}}`, ErrIndex},
		{"weight_map number value", `{"weight_map":{"a":1,"b":"s2.safetensors"}}`, ErrIndex},
		{"metadata not object", `{"metadata":3,"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`, ErrIndex},
		{"tensor not in shard", `{"weight_map":{"a":"s2.safetensors","b":"s2.safetensors"}}`, ErrIndexMismatch},
		{"unlisted tensor", `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"cd.safetensors"}}`, ErrIndexMismatch},
		{"unreferenced shard ignored", `{"weight_map":{"c":"cd.safetensors","d":"cd.safetensors"}}`, nil},
		{"missing shard file", `{"weight_map":{"a":"s1.safetensors","b":"s3.safetensors"}}`, fs.ErrNotExist},
		{"corrupt shard", `{"weight_map":{"a":"s1.safetensors","b":"bad.safetensors"}}`, ErrTrailingData},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShard(t, filepath.Join(dir, "s1.safetensors"), "a")
			writeShard(t, filepath.Join(dir, "s2.safetensors"), "b")
			writeShard(t, filepath.Join(dir, "cd.safetensors"), "c", "d")
			writeText(t, filepath.Join(dir, "bad.safetensors"), "\x02\x00\x00\x00\x00\x00\x00\x00{}!")
			index := filepath.Join(dir, IndexFileName)
			writeText(t, index, c.index)
			ck, err := OpenCheckpoint(dir)
			if c.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.name == "ok" && (len(ck.Files) != 2 || string(ck.IndexMetadata) != `{"total_size":16}`) {
					t.Errorf("files %d, metadata %s", len(ck.Files), ck.IndexMetadata)
				}
				ck.Close()
				return
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("OpenCheckpoint: %v; want %v", err, c.err)
			}
		})
	}
}

func TestCheckpointTensorInTwoShards(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, filepath.Join(dir, "s1.safetensors"), "a", "b")
	writeShard(t, filepath.Join(dir, "s2.safetensors"), "b")
	writeText(t, filepath.Join(dir, "x.safetensors.index.json"), `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`)
	_, err := OpenCheckpoint(dir)
	if !errors.Is(err, ErrIndexMismatch) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("OpenCheckpoint: %v; want ErrIndexMismatch naming b", err)
	}
}

func TestCheckpointPick(t *testing.T) {
	type file struct{ name, kind string }
	for _, c := range []struct {
		name  string
		files []file
		want  string // chosen file, or "" for ErrNoCheckpoint
	}{
		{"single", []file{{"model.safetensors", "st"}}, "model.safetensors"},
		{"single and index prefer single", []file{{"model.safetensors", "st"}, {"s1.safetensors", "st"}, {IndexFileName, "index"}}, "model.safetensors"},
		{"index", []file{{"s1.safetensors", "st"}, {IndexFileName, "index"}}, IndexFileName},
		{"other index", []file{{"s1.safetensors", "st"}, {"diffusion_pytorch_model.safetensors.index.json", "index"}}, "diffusion_pytorch_model.safetensors.index.json"},
		{"sole other file", []file{{"embeddings.safetensors", "st"}, {"README.md", "text"}}, "embeddings.safetensors"},
		{"two files", []file{{"a.safetensors", "st"}, {"b.safetensors", "st"}}, ""},
		{"two indexes", []file{{"s1.safetensors", "st"}, {"a.safetensors.index.json", "index"}, {"b.safetensors.index.json", "index"}}, ""},
		{"nothing", []file{{"README.md", "text"}}, ""},
		{"directory named like a file", []file{{"model.safetensors", "dir"}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				p := filepath.Join(dir, f.name)
				switch f.kind {
				case "st":
					writeShard(t, p, "a")
				case "index":
					writeText(t, p, `{"weight_map":{"a":"s1.safetensors"}}`)
				case "dir":
					os.Mkdir(p, 0o755)
				default:
					writeText(t, p, "hello")
				}
			}
			ck, err := OpenCheckpoint(dir)
			if c.want == "" {
				if !errors.Is(err, ErrNoCheckpoint) {
					t.Fatalf("OpenCheckpoint: %v; want ErrNoCheckpoint", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			if ck.Path != filepath.Join(dir, c.want) {
				t.Errorf("picked %s; want %s", ck.Path, c.want)
			}
			if ck.Config != nil {
				t.Errorf("Config = %v without a config.json", ck.Config)
			}
		})
	}
	if _, err := OpenCheckpoint(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenCheckpoint of a missing path: %v", err)
	}
}

func TestCheckpointConfigRules(t *testing.T) {
	for _, c := range []struct {
		name, config string
		err          error
	}{
		{"ok", `{"model_type":"gemma","hidden_size":2048,"architectures":["GemmaForCausalLM"],"vocab_size":256000,"max_position_embeddings":8192,"rope_scaling":null}`, nil},
		{"nulls", `{"model_type":null,"hidden_size":null}`, nil},
		{"duplicate key", `{"model_type":"opt","model_type":"gpt2"}`, ErrJSONFile},
		{"not an object", `"opt"`, ErrJSONFile},
		{"hidden_size string", `{"hidden_size":"16"}`, ErrConfig},
		{"hidden_size fraction", `{"hidden_size":16.5}`, ErrConfig},
		{"hidden_size negative", `{"hidden_size":-16}`, ErrConfig},
		{"model_type number", `{"model_type":3}`, ErrConfig},
		{"architectures string", `{"architectures":"GPT2LMHeadModel"}`, ErrConfig},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeShard(t, filepath.Join(dir, "model.safetensors"), "a")
			writeText(t, filepath.Join(dir, ConfigFileName), c.config)
			ck, err := OpenCheckpoint(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err) // a bad config.json does not stop the checkpoint opening
			}
			defer ck.Close()
			if ck.ConfigPath != filepath.Join(dir, ConfigFileName) {
				t.Errorf("ConfigPath = %q", ck.ConfigPath)
			}
			if c.err != nil {
				if !errors.Is(ck.ConfigErr, c.err) || ck.Config != nil {
					t.Fatalf("ConfigErr = %v, Config %v; want %v and no Config", ck.ConfigErr, ck.Config, c.err)
				}
				return
			}
			if ck.ConfigErr != nil {
				t.Fatal(ck.ConfigErr)
			}
			if c.name == "ok" && (ck.Config.ModelType != "gemma" || ck.Config.HiddenSize != 2048 || ck.Config.VocabSize != 256000 ||
				ck.Config.MaxPositionEmbeddings != 8192 || len(ck.Config.Architectures) != 1) {
				t.Errorf("Config = %+v", ck.Config)
			}
		})
	}
}
