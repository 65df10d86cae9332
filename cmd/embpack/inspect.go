package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
)

var inspectCommand = cli.Command{
	Name:     "embpack inspect",
	Synopsis: "embpack inspect [--json] FILE",
	Help: `
Inspect validates a table's header and prints it: shape, dtype, sizes, the
section table, the vocabulary, subword, norms and tokenizer sections (the
tokenizer's model, normalizer, pre-tokenizer and special tokens) and the
metadata (how the table was made). It reads the header, the sections' fixed
fields, the tokenizer and the metadata; 'embpack verify' checks the rows
and strings.`,
}

// inspectJSON is what inspect --json prints.
type inspectJSON struct {
	File             string          `json:"file"`
	Version          string          `json:"version"`
	FileSize         int64           `json:"file_size"`
	Rows             int64           `json:"rows"`
	Dim              int             `json:"dim"`
	DType            string          `json:"dtype"`
	RowBytes         int64           `json:"row_bytes"`
	RowStride        int64           `json:"row_stride"`
	Alignment        int64           `json:"alignment"`
	Positions        int64           `json:"positions"`
	PositionOffset   int64           `json:"position_offset"`
	TokenScale       float32         `json:"token_scale"`
	ComputeDType     string          `json:"compute_dtype"`
	RequiredFeatures uint64          `json:"required_features"`
	OptionalFeatures uint64          `json:"optional_features"`
	HeaderCRC        string          `json:"header_crc"`
	Sections         []sectionJSON   `json:"sections"`
	Vocabulary       *vocabularyJSON `json:"vocabulary,omitempty"`
	Norms            bool            `json:"norms,omitempty"`
	Tokenizer        *tokenizerJSON  `json:"tokenizer,omitempty"`
	Metadata         json.RawMessage `json:"metadata"`
}

type sectionJSON struct {
	Kind      string `json:"kind"`
	Required  bool   `json:"required"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Rows      int64  `json:"rows,omitempty"`
	RowStride int64  `json:"row_stride,omitempty"`
	DType     string `json:"dtype,omitempty"`
	CRC       string `json:"crc"`
}

func runInspect(e env, args []string) error {
	fs := cli.NewFlagSet(inspectCommand)
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	if err := cli.Parse(fs, inspectCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	f, err := format.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	info := describe(fs.Arg(0), f.Reader)
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	printInspect(e, info)
	return nil
}

func describe(name string, r *format.Reader) inspectJSON {
	h := r.Header
	info := inspectJSON{
		File: name, Version: fmt.Sprintf("%d.%d", h.Major, h.Minor), FileSize: h.FileSize,
		Rows: h.Rows, Dim: h.Dim, DType: h.DType.String(), RowBytes: h.DType.RowSize(h.Dim), RowStride: h.RowStride,
		Alignment: h.Alignment, Positions: h.Positions(), PositionOffset: h.PositionOffset,
		TokenScale: h.TokenScale, ComputeDType: "f32",
		RequiredFeatures: h.RequiredFeatures, OptionalFeatures: h.OptionalFeatures,
		HeaderCRC: fmt.Sprintf("%#08x", h.CRC), Metadata: json.RawMessage("null"),
	}
	if h.ComputeDType != 0 {
		info.ComputeDType = h.ComputeDType.String()
	}
	for _, s := range h.Sections {
		sj := sectionJSON{Kind: s.Kind.String(), Required: s.Flags&format.FlagRequired != 0,
			Offset: s.Offset, Length: s.Length, Rows: s.Rows, RowStride: s.RowStride, CRC: fmt.Sprintf("%#08x", s.CRC)}
		if s.DType != 0 {
			sj.DType = s.DType.String()
		}
		info.Sections = append(info.Sections, sj)
	}
	if md := r.Metadata(); md != nil {
		info.Metadata = md
	}
	describeSections(&info, r)
	return info
}

func printInspect(e env, info inspectJSON) {
	w := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "file\t%s\n", info.File)
	fmt.Fprintf(w, "format\tembstore table %s\n", info.Version)
	fmt.Fprintf(w, "size\t%d bytes (%s)\n", info.FileSize, humanBytes(info.FileSize))
	fmt.Fprintf(w, "table\t%d rows x %d %s (%d bytes per row, stride %d)\n", info.Rows, info.Dim, info.DType, info.RowBytes, info.RowStride)
	if info.Positions > 0 {
		fmt.Fprintf(w, "positions\t%d rows x %d f32, position 0 at row %d\n", info.Positions, info.Dim, info.PositionOffset)
	} else {
		fmt.Fprintf(w, "positions\tnone\n")
	}
	if info.TokenScale != 1 {
		fmt.Fprintf(w, "scale\ttoken rows x %v\n", info.TokenScale)
	} else {
		fmt.Fprintf(w, "scale\tnone\n")
	}
	var md struct {
		Conversion *struct {
			From        string  `json:"from"`
			To          string  `json:"to"`
			MaxAbsError float64 `json:"max_abs_error"`
		} `json:"conversion"`
	}
	if json.Unmarshal(info.Metadata, &md) == nil && md.Conversion != nil {
		fmt.Fprintf(w, "conversion\t%s -> %s, largest absolute error %g\n", md.Conversion.From, md.Conversion.To, md.Conversion.MaxAbsError)
	}
	if info.ComputeDType != "f32" {
		fmt.Fprintf(w, "compute\t%s: values, scaled values and positional sums rounded to %s\n", info.ComputeDType, info.ComputeDType)
	}
	printSections(w, info)
	fmt.Fprintf(w, "alignment\t%d\n", info.Alignment)
	fmt.Fprintf(w, "features\trequired %#x, optional %#x\n", info.RequiredFeatures, info.OptionalFeatures)
	fmt.Fprintf(w, "header crc\t%s\n", info.HeaderCRC)
	w.Flush()
	fmt.Fprintf(e.Stdout, "\nsections:\n")
	w = tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "kind\toffset\tlength\trows\tstride\tdtype\tcrc\t\n")
	for _, s := range info.Sections {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", s.Kind, s.Offset, s.Length, s.Rows, s.RowStride, orDash(s.DType), s.CRC)
	}
	w.Flush()
	if string(info.Metadata) != "null" {
		var pretty bytes.Buffer
		if json.Indent(&pretty, info.Metadata, "  ", "  ") == nil {
			fmt.Fprintf(e.Stdout, "\nmetadata:\n  %s\n", pretty.String())
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
