package main

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/store"
)

var tokenizeCommand = cli.Command{
	Name:     "embquery tokenize",
	Synopsis: "embquery tokenize FILE [--text S]... [--jsonl] [--add-special-tokens=true|false] [--format ids|json|tokens]",
	Help: `
Tokenize turns texts into token ids with the table's tokenizer (the
tokenizer.json it was imported with), exactly as Hugging Face's tokenizers
do, and prints one line per text. Texts come from --text (repeatable), or,
without it, from standard input: one text per line, or with --jsonl one JSON
string per line (so that a text can hold newlines). Lines are answered as
they come.

--add-special-tokens=false leaves out the tokens the model adds around a
text (BERT's [CLS] and [SEP], LLaMA's <s>); they are added by default, as
transformers' encode does.

Output formats: ids (the ids separated by spaces), json (a JSON array of
ids) and tokens (a JSON array of the token strings, as the vocabulary spells
them: "Ġworld" for GPT-2's " world").`,
}

func runTokenize(e env, args []string) error {
	fs := cli.NewFlagSet(tokenizeCommand)
	texts := fs.StringArray("text", nil, "tokenize `TEXT` (repeatable); without it, texts are read from standard input, one per line")
	jsonl := fs.Bool("jsonl", false, "standard input holds one JSON string per line")
	special := fs.Bool("add-special-tokens", true, "add the special tokens the model adds (--add-special-tokens=false: none)")
	outFormat := fs.String("format", "ids", "output format: ids, json or tokens")
	if err := cli.Parse(fs, tokenizeCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	switch {
	case *outFormat != "ids" && *outFormat != "json" && *outFormat != "tokens":
		return cli.Usagef("--format %q: want ids, json or tokens", *outFormat)
	case fs.Changed("text") && *jsonl:
		return cli.Usagef("--jsonl says how standard input holds texts; it does not go with --text")
	}
	path := fs.Arg(0)
	t, err := store.Open(path, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	tk, err := tableTokenizer(t, path)
	if err != nil {
		return err
	}
	var src textSource = &listTexts{texts: *texts}
	if !fs.Changed("text") {
		src = newLineTexts(e.Stdin, "text", *jsonl, true)
	}
	w := bufio.NewWriterSize(e.Stdout, 64<<10)
	var ids []int64
	var b []byte
	for {
		text, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Flush()
			return err
		}
		ids = tk.Encode(ids[:0], text, *special)
		b = b[:0]
		switch *outFormat {
		case "ids":
			for i, id := range ids {
				if i > 0 {
					b = append(b, ' ')
				}
				b = strconv.AppendInt(b, id, 10)
			}
		case "json":
			b = append(b, '[')
			for i, id := range ids {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, id, 10)
			}
			b = append(b, ']')
		case "tokens":
			toks, err := tk.Tokens(ids)
			if err != nil {
				w.Flush()
				return err
			}
			b = appendJSONStrings(b, toks)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
		if src.waiting() {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// appendJSONStrings appends a JSON array of strings, without the HTML
// escapes of encoding/json (so "<s>" stays readable).
func appendJSONStrings(b []byte, strs []string) []byte {
	b = append(b, '[')
	for i, s := range strs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string, without HTML escapes.
func appendJSONString(b []byte, s string) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(b, strings.TrimSuffix(sb.String(), "\n")...)
}

var decodeCommand = cli.Command{
	Name:     "embquery decode",
	Synopsis: "embquery decode FILE [--ids 15496,995] [--skip-special-tokens] [--format text|json]",
	Help: `
Decode turns token ids back into text with the table's tokenizer (its
decoder, as Hugging Face's decode), and prints the text and a newline. The
ids come from --ids, or, without it, from standard input: one sequence per
line, ids separated by spaces or commas, one text printed per line. An id
the tokenizer does not have is an error.

--skip-special-tokens leaves out the special tokens ([CLS], <s>, ...).
--format json prints each text as a JSON string, so that texts holding
newlines stay one line each.`,
}

func runDecode(e env, args []string) error {
	fs := cli.NewFlagSet(decodeCommand)
	idList := cli.ListFlag(fs, "ids", "comma-separated token `ids` (once); without it, one sequence per line of standard input")
	skip := fs.Bool("skip-special-tokens", false, "leave out the special tokens")
	outFormat := fs.String("format", "text", "output format: text or json")
	if err := cli.Parse(fs, decodeCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	if *outFormat != "text" && *outFormat != "json" {
		return cli.Usagef("--format %q: want text or json", *outFormat)
	}
	var given []int64
	if fs.Changed("ids") {
		var err error
		if given, err = cli.ParseIDList(*idList); err != nil {
			return cli.Usagef("--ids: %v", err)
		}
	}
	path := fs.Arg(0)
	t, err := store.Open(path, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	tk, err := tableTokenizer(t, path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(e.Stdout, 64<<10)
	decode := func(ids []int64) error {
		text, err := tk.Decode(ids, *skip)
		if err != nil {
			return err
		}
		var b []byte
		if *outFormat == "json" {
			b = appendJSONString(b, text)
		} else {
			b = append(b, text...)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if given != nil {
		if err := decode(given); err != nil {
			return err
		}
		return w.Flush()
	}
	src := newLineTexts(e.Stdin, "sequence", false, true)
	var ids []int64
	for {
		line, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Flush()
			return err
		}
		ids = ids[:0]
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			id, err := cli.ParseID(f)
			if err != nil {
				w.Flush()
				return atLine(src, err)
			}
			ids = append(ids, id)
		}
		if err := decode(ids); err != nil {
			w.Flush()
			return atLine(src, err)
		}
		if src.waiting() {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// atLine says which line of standard input err is about.
func atLine(src *lineTexts, err error) error {
	return &lineError{line: src.line, name: src.name, err: err}
}

type lineError struct {
	line int
	name string
	err  error
}

func (e *lineError) Error() string {
	return "line " + strconv.Itoa(e.line) + " of " + e.name + ": " + e.err.Error()
}
func (e *lineError) Unwrap() error { return e.err }
