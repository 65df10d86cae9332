package store_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/store"
)

// wordTable writes a small word-vector table for the examples: three words
// with 2-value rows and a vocabulary section.
func wordTable(dir string) string {
	path := filepath.Join(dir, "words.emb")
	fw, err := format.Create(path, format.Layout{Rows: 3, Dim: 2, Vocabulary: true})
	if err != nil {
		log.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens([]float32{1, 0, 0.5, 0.5, 0, 1}); err != nil {
		log.Fatal(err)
	}
	if err := fw.WriteStrings([]byte("king"), []byte("queen"), []byte("castle")); err != nil {
		log.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		log.Fatal(err)
	}
	return path
}

// WordID finds a word's row through the vocabulary's index in the file;
// a word no row has is a *store.WordError naming it.
func ExampleTable_WordID() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	t, err := store.Open(wordTable(dir), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	id, err := t.WordID("queen")
	fmt.Println(id, err)
	_, err = t.WordID("knight")
	var we *store.WordError
	fmt.Println(errors.As(err, &we), we.Word, errors.Is(err, store.ErrNotInVocabulary))
	// Output:
	// 1 <nil>
	// true knight true
}

// Vector writes a word's row into a caller's buffer. On a fastText table
// (one with a subword table) a word outside the vocabulary gets the mean of
// its character n-grams' rows instead of an error.
func ExampleTable_Vector() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	t, err := store.Open(wordTable(dir), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	v := make([]float32, t.Header().Dim)
	if err := t.Vector(v, "castle"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	fmt.Println(t.Vector(v, "knight"))
	// Output:
	// [0 1]
	// embstore: word "knight" is not in the vocabulary (and the table has no subword table)
}
