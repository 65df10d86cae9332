package store

import "fmt"

// Lookups by word: the row of a vocabulary string, and the vector of a word
// (its row, or fastText's vector of its character n-grams when the table
// has a subword table and the vocabulary does not have the word). These are
// the table-level forms of Vocabulary.ID and Vocabulary.WordVector, for the
// callers that only want words (word2vec, GloVe and fastText tables).

// WordID returns the row whose vocabulary string is word (compared byte for
// byte). It returns ErrNoVocabulary for a table without a vocabulary and a
// *WordError wrapping ErrNotInVocabulary, naming the word, for a word no
// row has. It does not allocate when the word is found.
func (t *Table) WordID(word string) (int64, error) {
	if !t.sec.hasVocab {
		return -1, ErrNoVocabulary
	}
	id := int64(-1)
	err := t.read(func() error {
		v, err := t.vocabulary()
		if err != nil {
			return err
		}
		id, err = v.IDString(word)
		if err == ErrNotInVocabulary {
			return errNotInVocabulary
		}
		return err
	})
	if err == errNotInVocabulary {
		return -1, &WordError{Word: word, Err: ErrNotInVocabulary, vocabOnly: true}
	}
	return id, vocabErr(err)
}

// Vector writes the vector of word to dst, which must hold Dim values: the
// word's token row, as Lookup returns it, when the vocabulary has the word;
// otherwise, when the table has a subword table (a fastText import), the
// mean of the rows of the word's character n-grams, as fastText's
// getWordVector computes it for an out-of-vocabulary word (see Subwords).
// A word with neither is a *WordError naming it, wrapping
// ErrNotInVocabulary or ErrNoNgrams; a table without a vocabulary returns
// ErrNoVocabulary. It does not allocate on success.
func (t *Table) Vector(dst []float32, word string) error {
	if !t.sec.hasVocab {
		return ErrNoVocabulary
	}
	if len(dst) != t.hdr.Dim {
		return fmt.Errorf("embstore: output holds %d values, a vector has %d", len(dst), t.hdr.Dim)
	}
	err := t.read(func() error {
		v, err := t.vocabulary()
		if err != nil {
			return err
		}
		id, err := v.IDString(word)
		switch {
		case err == nil:
			return t.tokenRow(dst, id)
		case err != ErrNotInVocabulary:
			return err
		case t.sec.subRows == 0:
			return errNotInVocabulary
		}
		return t.oovVector(dst, word)
	})
	switch err {
	case errNotInVocabulary:
		return &WordError{Word: word, Err: ErrNotInVocabulary}
	case errNoNgrams:
		return &WordError{Word: word, Err: ErrNoNgrams}
	}
	return vocabErr(err)
}
