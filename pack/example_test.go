package pack_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

// lookup prints the rows of ids of the table at path, to 4 decimals.
func lookup(path string, ids ...int64) {
	t, err := store.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	out := make([]float32, len(ids)*t.Header().Dim)
	if err := t.Lookup(out, ids); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.4f\n", out)
}

// Seed draws a table exactly as PyTorch does: this one holds what
//
//	torch.manual_seed(123)
//	torch.nn.Embedding(10, 4)
//	torch.nn.Embedding(3, 4)   # the positional table
//
// computes on a CPU with AVX2, bit for bit.
func ExampleSeed() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "seeded.emb")

	spec := pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Positions: 3} // Init and Math: nn.Embedding, AVX2
	if err := pack.Seed(context.Background(), path, spec, &pack.Options{Creator: "example"}); err != nil {
		log.Fatal(err)
	}
	lookup(path, 2, 7)
	// Output:
	// [0.7671 -1.1925 0.6984 -1.4097 -0.8199 -0.4210 -0.9620 1.2825]
}

// Export writes a table as a safetensors file (loadable with
// safetensors.torch.load_file); Import reads one back, finding the token
// and positional tables by the names models use, with their conventions.
func ExampleImport() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	seeded := filepath.Join(dir, "seeded.emb")
	if err := pack.Seed(ctx, seeded, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Positions: 3}, nil); err != nil {
		log.Fatal(err)
	}
	st := filepath.Join(dir, "model.safetensors")
	if _, err := pack.Export(ctx, st, seeded, format.F16, nil); err != nil {
		log.Fatal(err)
	}

	imported := filepath.Join(dir, "imported.emb")
	info, err := pack.Import(ctx, imported, pack.ImportSpec{Src: st}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Tensor, info.TensorDType, info.TensorShape, "+", info.PositionsTensor, info.PositionsShape)
	fmt.Println(info.Conversion)
	lookup(imported, 2)
	// Output:
	// embeddings.weight F16 [10 4] + position_embeddings.weight [3 4]
	// F16: exact widening to f32
	// [0.7671 -1.1924 0.6982 -1.4102]
}

// Export writes a table's token (and positional) table as safetensors,
// here rounded to bfloat16, and reports the largest error that made.
func ExampleExport() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	seeded := filepath.Join(dir, "seeded.emb")
	if err := pack.Seed(ctx, seeded, pack.SeedSpec{Rows: 1000, Dim: 64, Seed: 1}, nil); err != nil {
		log.Fatal(err)
	}
	info, err := pack.Export(ctx, filepath.Join(dir, "t.safetensors"), seeded, format.BF16, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s as %s, largest error %.4f\n", info.TokenTensor, info.DType, info.MaxAbsError)
	// Output:
	// embeddings.weight as bf16, largest error 0.0147
}

// Convert stores a table's rows in another dtype: int8 is FBGEMM's
// row-wise quantisation, within half a step of each value.
func ExampleConvert() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	seeded := filepath.Join(dir, "seeded.emb")
	if err := pack.Seed(ctx, seeded, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123}, nil); err != nil {
		log.Fatal(err)
	}
	small := filepath.Join(dir, "int8.emb")
	info, err := pack.Convert(ctx, small, seeded, format.Int8, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s -> %s, largest error %.4f\n", info.From, info.To, info.MaxAbsError)
	lookup(small, 2)
	// Output:
	// f32 -> int8, largest error 0.0057
	// [0.7671 -1.1963 0.6988 -1.4097]
}

// Shard splits a table into row-range shards with a manifest; Unshard
// joins them back into the original file, bit for bit.
func ExampleShard() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	src := filepath.Join(dir, "t.emb")
	if err := pack.Seed(ctx, src, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Positions: 3}, nil); err != nil {
		log.Fatal(err)
	}
	m, err := pack.Shard(ctx, src, filepath.Join(dir, "shards"), pack.ShardSpec{Name: "t", Shards: 3}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range m.Shards {
		fmt.Println(s.File, s.RowStart, s.RowEnd)
	}
	checks, err := pack.VerifyShards(ctx, filepath.Join(dir, "shards"))
	fmt.Println(len(checks), "shards verified:", err)

	back := filepath.Join(dir, "back.emb")
	if err := pack.Unshard(ctx, filepath.Join(dir, "shards"), back, nil); err != nil {
		log.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(back)
	fmt.Println("same bytes:", string(a) == string(b))
	// Output:
	// t-v1-00000-of-00003.emb 0 4
	// t-v1-00001-of-00003.emb 4 7
	// t-v1-00002-of-00003.emb 7 10
	// 3 shards verified: <nil>
	// same bytes: true
}

// exampleTokenizer is a small Hugging Face tokenizer.json: six words, a
// lowercasing normalizer, split on whitespace.
const exampleTokenizer = `{"version": "1.0", "added_tokens": [], "normalizer": {"type": "Lowercase"},
 "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
 "model": {"type": "WordLevel", "unk_token": "[UNK]",
   "vocab": {"[UNK]": 0, "hello": 1, "world": 2, "text": 3, "in": 4, "out": 5}}}`

// SeedSpec.Tokenizer stores a tokenizer with a seeded table (a model
// directory, or one of its tokenizer files): the table then turns text into
// ids and ids into rows, which are torch's as without a tokenizer.
func ExampleSeed_tokenizer() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	tok := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(tok, []byte(exampleTokenizer), 0o644); err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "seeded.emb")
	spec := pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Tokenizer: tok}
	if err := pack.Seed(context.Background(), path, spec, nil); err != nil {
		log.Fatal(err)
	}

	t, err := store.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	tk, err := t.Tokenizer()
	if err != nil {
		log.Fatal(err)
	}
	ids := tk.Encode(nil, "Hello world", true)
	fmt.Println(ids)
	lookup(path, ids...) // torch.manual_seed(123); torch.nn.Embedding(10, 4).weight[[1, 2]]
	// Output:
	// [1 2]
	// [0.3486 0.6603 -0.2196 -0.3792 0.7671 -1.1925 0.6984 -1.4097]
}

// Import stores the tokenizer it finds beside the weights (tokenizer.json,
// else vocab.json + merges.txt, else vocab.txt): the table gets the
// tokenizer and the string of every id, and the metadata its source and
// SHA-256. ImportSpec.NoTokenizer imports without it.
func ExampleImport_tokenizer() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	seeded := filepath.Join(dir, "seeded.emb")
	if err := pack.Seed(ctx, seeded, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123}, nil); err != nil {
		log.Fatal(err)
	}
	model := filepath.Join(dir, "model")
	os.Mkdir(model, 0o755)
	if _, err := pack.Export(ctx, filepath.Join(model, "model.safetensors"), seeded, 0, nil); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(model, "tokenizer.json"), []byte(exampleTokenizer), 0o644); err != nil {
		log.Fatal(err)
	}

	info, err := pack.Import(ctx, filepath.Join(dir, "imported.emb"), pack.ImportSpec{Src: model}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Tokenizer.Source, info.TokenizerIDs, "ids")
	t, err := store.Open(filepath.Join(dir, "imported.emb"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	v, err := t.Vocabulary()
	if err != nil {
		log.Fatal(err)
	}
	id, err := v.ID("world")
	fmt.Println(`"world" is row`, id, err)
	// Output:
	// tokenizer.json 6 ids
	// "world" is row 2 <nil>
}

// ConvertWith writes a table again, keeping every section unless told
// otherwise: here with a norms section added and the tokenizer (with its
// vocabulary) dropped, the rows unchanged.
func ExampleConvertWith() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	tok := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(tok, []byte(exampleTokenizer), 0o644); err != nil {
		log.Fatal(err)
	}
	src := filepath.Join(dir, "t.emb")
	if err := pack.Seed(ctx, src, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Tokenizer: tok}, nil); err != nil {
		log.Fatal(err)
	}
	dst := filepath.Join(dir, "normed.emb")
	spec := pack.ConvertSpec{Norms: pack.NormsAdd, NoTokenizer: true} // DType 0: the rows keep theirs
	if _, err := pack.ConvertWith(ctx, dst, src, spec, nil); err != nil {
		log.Fatal(err)
	}
	for _, path := range []string{src, dst} {
		f, err := format.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		var kinds []string
		for _, s := range f.Sections {
			kinds = append(kinds, s.Kind.String())
		}
		fmt.Println(strings.Join(kinds, " "))
		f.Close()
	}
	// Output:
	// tokens vocabulary tokenizer metadata
	// tokens norms metadata
}
