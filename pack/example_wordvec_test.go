package pack_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

// ExampleImportWordVectors imports a small word2vec text file (a GloVe,
// fastText or gzip-compressed one is read the same way) and looks a word
// up by its string.
func ExampleImportWordVectors() {
	dir, err := os.MkdirTemp("", "wordvec-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "vectors.txt")
	text := "3 2\nking 0.5 0.25\nqueen 0.5 0.375\nking 9 9\n" // the second "king" is dropped, as gensim drops it
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
	dst := filepath.Join(dir, "vectors.emb")
	info, err := pack.ImportWordVectors(context.Background(), dst, pack.WordVectorSpec{Src: src}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Format, info.Rows, info.Dim, info.Vocabulary.Duplicates, info.Vocabulary.DuplicateWords)

	t, err := store.Open(dst, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	voc, err := t.Vocabulary()
	if err != nil {
		log.Fatal(err)
	}
	v := make([]float32, 2)
	if err := voc.WordVector(v, "queen"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	// Output:
	// word2vec-text 2 2 1 [king]
	// [0.5 0.375]
}
