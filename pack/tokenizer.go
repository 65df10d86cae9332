package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/tokenizer"
)

// A table's tokenizer: the canonical tokenizer.json document (the tokenizer
// section) and the string of every id it defines (the vocabulary section).
//
// What a tokenizer is read from, by the name of a file or what a directory
// holds, is tokenizer.FromDir's rule: tokenizer.json, else vocab.json +
// merges.txt, else vocab.txt, with tokenizer_config.json and
// special_tokens_map.json beside them. A file with any other name is read
// as a tokenizer.json document on its own.

// tokenizerFiles are the names of the files that hold a tokenizer (as
// opposed to configuring one).
var tokenizerFiles = []string{"tokenizer.json", "vocab.json", "merges.txt", "vocab.txt"}

// configFiles are the files beside a tokenizer that configure it.
var configFiles = []string{"tokenizer_config.json", "special_tokens_map.json"}

// TokenizerInfo is the "tokenizer" metadata of a table that carries a
// tokenizer: what the stored document was made from and its SHA-256.
type TokenizerInfo struct {
	// Source is what the document was made from: "tokenizer.json",
	// "vocab.json+merges.txt" or "vocab.txt".
	Source string `json:"source"`
	// SHA256 is the hex SHA-256 of the tokenizer.json document stored in
	// the tokenizer section (decompressed).
	SHA256 string `json:"sha256"`
}

// attached is a tokenizer ready to be written into a table.
type attached struct {
	doc   []byte // the canonical tokenizer.json
	tk    *tokenizer.Tokenizer
	info  TokenizerInfo
	files []string // the files read, for the destination check
	strs  [][]byte // the vocabulary section's strings (see strings)
	vocab *VocabularyInfo
}

// readTokenizer reads the tokenizer at path (a file or a directory) for a
// table of rows token rows: its canonical document and the strings of its
// vocabulary. A directory without any tokenizer file is an error wrapping
// tokenizer.ErrNoTokenizer; an id at or past rows is a *TokenIDError.
func readTokenizer(path string, rows int64) (*attached, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &TokenizerError{Path: path, Err: err}
	}
	dir, only := path, ""
	if !st.IsDir() {
		dir, only = filepath.Dir(path), filepath.Base(path)
	}
	var f tokenizer.Files
	var read []string
	load := func(name string, dst *[]byte) error {
		p := filepath.Join(dir, name)
		b, err := readCapped(p, format.MaxTokenizerSize)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		*dst = b
		read = append(read, p)
		return nil
	}
	targets := map[string]*[]byte{"tokenizer.json": &f.TokenizerJSON, "vocab.json": &f.VocabJSON, "merges.txt": &f.Merges, "vocab.txt": &f.VocabTxt,
		"tokenizer_config.json": &f.TokenizerConfig, "special_tokens_map.json": &f.SpecialTokensMap}
	var names []string
	switch only {
	case "":
		names = tokenizerFiles
	case "tokenizer.json", "vocab.txt":
		names = []string{only}
	case "vocab.json", "merges.txt":
		names = []string{"vocab.json", "merges.txt"}
	default:
		// Any other name: a tokenizer.json document on its own.
		b, err := readCapped(path, format.MaxTokenizerSize)
		if err != nil {
			return nil, &TokenizerError{Path: path, Err: err}
		}
		f.TokenizerJSON, read = b, []string{path}
	}
	for _, name := range names {
		if err := load(name, targets[name]); err != nil {
			return nil, &TokenizerError{Path: path, Err: err}
		}
	}
	if names != nil {
		for _, name := range configFiles {
			if err := load(name, targets[name]); err != nil {
				return nil, &TokenizerError{Path: path, Err: err}
			}
		}
	}
	doc, src, err := tokenizer.Canonical(f)
	if err != nil {
		return nil, &TokenizerError{Path: path, Err: err}
	}
	tk, err := tokenizer.Load(doc) // Canonical loaded it once to check it; this is the one kept
	if err != nil {
		return nil, &TokenizerError{Path: path, Err: err}
	}
	sum := sha256.Sum256(doc)
	a := &attached{doc: doc, tk: tk, files: read,
		info: TokenizerInfo{Source: src.Kind, SHA256: hex.EncodeToString(sum[:])}}
	if a.strs, a.vocab, err = a.strings(rows); err != nil {
		return nil, &TokenizerError{Path: path, Err: err}
	}
	return a, nil
}

// hasTokenizerFiles reports whether dir holds a file that defines a
// tokenizer (not only configuration).
func hasTokenizerFiles(dir string) bool {
	for _, name := range tokenizerFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// readCapped reads a file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	return b, nil
}

// strings returns the vocabulary section's strings for a table of rows
// rows: the token of every id the tokenizer defines, nil for the others. It
// refuses a tokenizer with an id at or past rows, naming the first. A
// string that two ids share goes to the id the tokenizer gives it
// (tokenizer.TokenToID: added tokens first); the others are left without
// one and counted in the vocabulary metadata it returns.
func (a *attached) strings(rows int64) ([][]byte, *VocabularyInfo, error) {
	toks, ok := a.tk.Vocabulary()
	for id := rows; id < int64(len(toks)); id++ {
		if ok[id] {
			return nil, nil, &TokenIDError{ID: id, Token: toks[id], Rows: rows}
		}
	}
	out := make([][]byte, rows)
	seen := make(map[string]bool, len(toks))
	vi := &VocabularyInfo{Source: "tokenizer"}
	for id := range toks {
		if !ok[id] {
			continue
		}
		s := toks[id]
		if want, _ := a.tk.TokenToID(s); want != int64(id) {
			// Another id owns this string. TokenToID finds every string
			// the tokenizer holds, so the owner gets it.
			vi.Duplicates++
			if len(vi.DuplicateWords) < maxDuplicateWords && !seen[s] {
				vi.DuplicateWords = append(vi.DuplicateWords, s)
				seen[s] = true
			}
			continue
		}
		out[id] = []byte(s)
	}
	return out, vi, nil
}

// maxDuplicateWords is how many duplicated strings the vocabulary metadata
// lists.
const maxDuplicateWords = 100

// write stores the tokenizer and its vocabulary in fw, whose layout has a
// vocabulary.
func (a *attached) write(fw *format.FileWriter) error {
	if err := fw.WriteStrings(a.strs...); err != nil {
		return err
	}
	return fw.SetTokenizer(a.doc)
}

// A TokenizerError says that the tokenizer at Path cannot be attached to a
// table: it cannot be read, it is not a tokenizer the tokenizer package
// can reproduce exactly (Err is then a *tokenizer.LoadError naming the
// component, errors.Is tokenizer.ErrUnsupported), a directory holds none
// (tokenizer.ErrNoTokenizer), or its ids do not fit the table (a
// *TokenIDError).
type TokenizerError struct {
	Path string // the file or directory given, or the directory searched
	Err  error
}

func (e *TokenizerError) Error() string {
	return fmt.Sprintf("tokenizer %s: %v", e.Path, e.Err)
}

// Unwrap returns why the tokenizer cannot be used.
func (e *TokenizerError) Unwrap() error { return e.Err }

// A TokenIDError says that a tokenizer defines an id the table has no row
// for: the first such id, its token and the table's row count.
type TokenIDError struct {
	ID    int64
	Token string
	Rows  int64
}

func (e *TokenIDError) Error() string {
	return fmt.Sprintf("token id %d (%q) is past the table's %d rows", e.ID, e.Token, e.Rows)
}
