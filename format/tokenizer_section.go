package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/embstore/embstore/internal/strictjson"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The tokenizer section (kind 5, SPEC.md "Tokenizer"): a Hugging Face
// tokenizer.json, zstd-compressed.
//
//	0   u32 format       TokenizerHFJSON
//	4   u32 compression  CompressionZstd
//	8   u64 raw_length   length of the decompressed document, 1 to MaxTokenizerSize
//	16  ...              the compressed document
const (
	tokOffFormat      = 0
	tokOffCompression = 4
	tokOffRawLength   = 8
)

// TokenizerHFJSON is the tokenizer section's format code for a Hugging Face
// tokenizer.json document (UTF-8 JSON).
const TokenizerHFJSON = 1

// CompressionZstd is the tokenizer section's compression code for zstd
// (RFC 8878).
const CompressionZstd = 1

// TokenizerInfo holds the fixed fields of a tokenizer section.
type TokenizerInfo struct {
	Format      uint32 // TokenizerHFJSON
	Compression uint32 // CompressionZstd
	RawLength   int64  // bytes of the decompressed document
}

// parseTokenizerHeader decodes and checks the fixed fields of a tokenizer
// section of length bytes at offset base.
func parseTokenizerHeader(h []byte, base, length int64) (TokenizerInfo, error) {
	le := binary.LittleEndian
	if length <= TokenizerHeader || len(h) < TokenizerHeader {
		return TokenizerInfo{}, formatErr(ErrBadTokenizer, base, "tokenizer.length", length,
			"want the %d-byte fixed fields and at least one byte of compressed data", TokenizerHeader)
	}
	info := TokenizerInfo{Format: le.Uint32(h[tokOffFormat:]), Compression: le.Uint32(h[tokOffCompression:])}
	raw := le.Uint64(h[tokOffRawLength:])
	switch {
	case info.Format != TokenizerHFJSON:
		return info, formatErr(ErrBadTokenizer, base+tokOffFormat, "tokenizer.format", info.Format,
			"want %d (Hugging Face tokenizer.json)", TokenizerHFJSON)
	case info.Compression != CompressionZstd:
		return info, formatErr(ErrBadTokenizer, base+tokOffCompression, "tokenizer.compression", info.Compression,
			"want %d (zstd)", CompressionZstd)
	case raw == 0 || raw > MaxTokenizerSize:
		return info, formatErr(ErrBadTokenizer, base+tokOffRawLength, "tokenizer.raw_length", raw,
			"want 1 to %d bytes", MaxTokenizerSize)
	}
	info.RawLength = int64(raw)
	return info, nil
}

// ParseTokenizerSection checks the bytes of a tokenizer section: its fixed
// fields and (what verification adds) that the compressed document
// decompresses to exactly raw_length bytes that pass ValidateTokenizerJSON.
// It returns the document. base is the section's offset in its file, for
// errors. Decompression never holds more than raw_length bytes of output.
func ParseTokenizerSection(sec []byte, base int64) ([]byte, error) {
	doc, err := DecompressTokenizerSection(sec, base)
	if err != nil {
		return nil, err
	}
	if err := ValidateTokenizerJSON(doc); err != nil {
		return nil, formatErr(ErrBadTokenizer, base+TokenizerHeader, "tokenizer", nil, "the document: %v", err)
	}
	return doc, nil
}

// DecompressTokenizerSection is ParseTokenizerSection without the checks
// of the JSON document, which cost several times the decompression: what a
// reader that parses the document next (and so meets any malformed JSON)
// needs, when verification has run or will.
func DecompressTokenizerSection(sec []byte, base int64) ([]byte, error) {
	info, err := parseTokenizerHeader(sec, base, int64(len(sec)))
	if err != nil {
		return nil, err
	}
	doc, err := decompressTokenizer(sec[TokenizerHeader:], info.RawLength)
	if err != nil {
		return nil, formatErr(ErrBadTokenizer, base+TokenizerHeader, "tokenizer", nil, "%v", err)
	}
	return doc, nil
}

// ValidateTokenizerJSON checks that doc is a tokenizer document the format
// allows: 1 to MaxTokenizerSize bytes of UTF-8 (no byte-order mark) holding
// one JSON object, nested at most MaxMetadataDepth levels, with no
// duplicate key in any object and no lone surrogate escape (the metadata
// rules, with a larger size). It
// does not check that the document is a tokenizer a reader can run: that
// is the tokenizer package's job, when the tokenizer is first used.
func ValidateTokenizerJSON(doc []byte) error {
	if len(doc) == 0 || len(doc) > MaxTokenizerSize {
		return fmt.Errorf("%d bytes; want 1 to %d", len(doc), MaxTokenizerSize)
	}
	if err := strictjson.CheckObject(doc, MaxMetadataDepth); err != nil {
		return err
	}
	return nil
}

// zstdDecoders are reused across decompressions. Each is used by one
// goroutine at a time; a Decoder's own limits are set per call below.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxTokenizerSize), zstd.WithDecoderMaxMemory(MaxTokenizerSize),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(err) // the options are constant: this cannot fail
	}
	return d
}}

// decompressTokenizer decompresses a zstd stream that must hold exactly
// raw bytes. Output is capped at raw bytes: a stream that holds more stops
// there with an error, never allocating past it.
func decompressTokenizer(compressed []byte, raw int64) ([]byte, error) {
	d := zstdDecoders.Get().(*zstd.Decoder)
	defer zstdDecoders.Put(d)
	out, err := d.DecodeAll(compressed, make([]byte, 0, raw))
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return nil, fmt.Errorf("decompresses to more than raw_length %d bytes", raw)
	case err != nil:
		return nil, fmt.Errorf("zstd: %v", err)
	case int64(len(out)) != raw:
		return nil, fmt.Errorf("decompresses to %d bytes; raw_length says %d", len(out), raw)
	}
	return out, nil
}

// tokenizerLevel is the zstd level writers compress tokenizers with. The
// compressed bytes depend on it and on the zstd implementation, so a copy
// of a table (a shard, a join) copies the section as it is
// (Writer.SetTokenizerSection) rather than compressing it again.
const tokenizerLevel = zstd.SpeedBestCompression

// EncodeTokenizerSection returns the bytes of a tokenizer section holding
// doc, a tokenizer.json that passes ValidateTokenizerJSON, compressed
// deterministically: one zstd frame with its content size and checksum,
// at a fixed level, on one goroutine. The same doc gives the same bytes
// with the same version of github.com/klauspost/compress.
func EncodeTokenizerSection(doc []byte) ([]byte, error) {
	if err := ValidateTokenizerJSON(doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTokenizer, err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(tokenizerLevel), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	sec := make([]byte, TokenizerHeader, TokenizerHeader+len(doc)/4+64)
	le := binary.LittleEndian
	le.PutUint32(sec[tokOffFormat:], TokenizerHFJSON)
	le.PutUint32(sec[tokOffCompression:], CompressionZstd)
	le.PutUint64(sec[tokOffRawLength:], uint64(len(doc)))
	return enc.EncodeAll(doc, sec), nil
}
