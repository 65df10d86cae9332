package safetensors

import (
	"fmt"
	"io"

	"github.com/embstore/embstore/internal/regfile"
	"github.com/embstore/embstore/internal/strictjson"
)

// Limits for the JSON files beside the weights (the sharded checkpoint
// index and config.json).
const (
	// MaxJSONFileSize is the largest index or config.json accepted, in
	// bytes.
	MaxJSONFileSize = MaxHeaderSize
	// maxJSONDepth bounds how deeply their objects and arrays may nest.
	maxJSONDepth = 64
)

// readJSONFile reads a JSON file of at most MaxJSONFileSize bytes and checks
// it with checkJSON.
func readJSONFile(path string) ([]byte, error) {
	f, _, err := regfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxJSONFileSize+1))
	if err != nil {
		return nil, readError(path, "reading", err)
	}
	if len(b) > MaxJSONFileSize {
		return nil, &FormatError{File: path, Offset: -1, Err: ErrJSONFile, Detail: fmt.Sprintf("larger than %d bytes", MaxJSONFileSize)}
	}
	if err := checkJSON(b); err != nil {
		err.File = path
		return nil, err
	}
	return b, nil
}

// checkJSON checks that b holds exactly one JSON object, possibly surrounded
// by whitespace, that is valid UTF-8 with no unpaired surrogate escape,
// nests at most maxJSONDepth deep and repeats no key in any object (see
// package strictjson, which the table format's metadata is checked with
// too).
func checkJSON(b []byte) *FormatError {
	if err := strictjson.CheckObject(b, maxJSONDepth); err != nil {
		return &FormatError{Offset: err.Offset, Err: ErrJSONFile, Detail: err.Detail}
	}
	return nil
}
