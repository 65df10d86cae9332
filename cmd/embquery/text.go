package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/store"
	"github.com/embstore/embstore/tokenizer"
)

// What tokenize, decode, embed, and lookup and bag with text or word inputs
// share: texts and words read from flags or standard input, and the table's
// tokenizer and vocabulary.

// maxLineBytes bounds one line of text input (a text, a word or a JSON
// string), so that input without newlines cannot take all memory.
const maxLineBytes = 64 << 20

// A textSource yields texts (or words) in order.
type textSource interface {
	// next returns the next text, or io.EOF once there are none.
	next() (string, error)
	// waiting reports whether the source has no more input at hand, so
	// that the next call may wait: the output so far should be flushed.
	waiting() bool
}

// listTexts is a textSource over texts given on the command line.
type listTexts struct{ texts []string }

func (l *listTexts) next() (string, error) {
	if len(l.texts) == 0 {
		return "", io.EOF
	}
	s := l.texts[0]
	l.texts = l.texts[1:]
	return s, nil
}

func (l *listTexts) waiting() bool { return false }

// lineTexts reads one text per line of a stream: the line without its
// "\n" or "\r\n", or, with jsonl, a JSON string (which can hold newlines).
// A last line without a newline counts.
type lineTexts struct {
	r     *bufio.Reader
	name  string // "standard input"
	what  string // "text" or "word", for messages
	jsonl bool
	empty bool // empty lines are allowed (texts); otherwise an error (words)
	line  int
}

// allTexts reads every text src has; for outputs that need the count
// first (.npy's header) and for commands that take all their inputs at once.
func allTexts(src textSource) ([]string, error) {
	var all []string
	for {
		s, err := src.next()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
}

func newLineTexts(r io.Reader, what string, jsonl, empty bool) *lineTexts {
	return &lineTexts{r: bufio.NewReaderSize(r, 64<<10), name: "standard input", what: what, jsonl: jsonl, empty: empty}
}

func (l *lineTexts) waiting() bool { return l.r.Buffered() == 0 }

func (l *lineTexts) next() (string, error) {
	var line []byte
	for {
		part, err := l.r.ReadSlice('\n')
		if len(line)+len(part) > maxLineBytes {
			return "", fmt.Errorf("line %d of %s is longer than %d MiB", l.line+1, l.name, maxLineBytes>>20)
		}
		if err == bufio.ErrBufferFull {
			line = append(line, part...)
			continue
		}
		if line == nil {
			line = part
		} else {
			line = append(line, part...)
		}
		if err == io.EOF {
			if len(line) == 0 {
				return "", io.EOF
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", l.name, err)
		}
		break
	}
	l.line++
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if !l.jsonl {
		if len(line) == 0 && !l.empty {
			return "", fmt.Errorf("line %d of %s is empty; want one %s per line", l.line, l.name, l.what)
		}
		return string(line), nil
	}
	var s *string
	if err := json.Unmarshal(line, &s); err != nil || s == nil {
		shown := line
		if len(shown) > 40 {
			shown = shown[:40]
		}
		return "", fmt.Errorf("line %d of %s is not a JSON string (it starts %q); --jsonl wants one JSON string per line", l.line, l.name, shown)
	}
	return *s, nil
}

// tableTokenizer returns the tokenizer of the table at path, or an error
// naming the file.
func tableTokenizer(t *store.Table, path string) (*tokenizer.Tokenizer, error) {
	tk, err := t.Tokenizer()
	if err != nil {
		return nil, errctx.In("embstore", path, err)
	}
	return tk, nil
}

// tokenIDs returns the ids of exact vocabulary strings: through the
// table's vocabulary section, or, for a table with a tokenizer but no
// vocabulary, the tokenizer's vocabulary.
func tokenIDs(t *store.Table, path string, tokens []string) ([]int64, error) {
	ids := make([]int64, len(tokens))
	var tk *tokenizer.Tokenizer
	for i, s := range tokens {
		id, err := t.WordID(s)
		if err == store.ErrNoVocabulary {
			if tk == nil {
				if tk, err = t.Tokenizer(); err != nil {
					return nil, errctx.In("embstore", path, fmt.Errorf("--token needs a vocabulary or a tokenizer, and the table has neither"))
				}
			}
			var ok bool
			if id, ok = tk.TokenToID(s); ok {
				err = nil
			} else {
				err = &store.WordError{Word: s, Err: store.ErrNotInVocabulary}
			}
		}
		if err != nil {
			var we *store.WordError
			if errors.As(err, &we) {
				return nil, fmt.Errorf("--token %s (token %d): not in the vocabulary of %s", strconv.Quote(s), i+1, path)
			}
			return nil, errctx.In("embstore", path, err)
		}
		ids[i] = id
	}
	return ids, nil
}

// wordErr makes the error of a word without a vector say where the word
// came from (an --word flag, a line of standard input).
func wordErr(err error, path, where string) error {
	var we *store.WordError
	if errors.As(err, &we) {
		msg := fmt.Sprintf("word %s (%s) is not in the vocabulary of %s", strconv.Quote(we.Word), where, path)
		switch {
		case errors.Is(err, store.ErrNoNgrams):
			msg += " and has no character n-gram of the subword lengths"
		default:
			msg += ", which has no subword table for words outside it"
		}
		return errors.New(msg)
	}
	if err == store.ErrNoVocabulary {
		return errctx.In("embstore", path, fmt.Errorf("table has no vocabulary: word inputs need a table imported with its words (or a tokenizer's vocabulary)"))
	}
	return err
}

// textTokenizer returns the tokenizer that turns texts into rows of the
// table at path (tableTokenizer), refusing a shard (embpack shard) that does
// not hold the whole table: its tokenizer gives the whole table's ids, and
// its rows are a range of them, renumbered from 0.
func textTokenizer(t *store.Table, path string) (*tokenizer.Tokenizer, error) {
	tk, err := tableTokenizer(t, path)
	if err != nil {
		return nil, err
	}
	if msg := shardmeta.Partial(t.Metadata(), t.Header().Rows); msg != "" {
		return nil, fmt.Errorf("%s is %s: the ids its tokenizer gives are the whole table's, its rows only a range of them; use the whole table (embpack unshard) for texts", path, msg)
	}
	return tk, nil
}
