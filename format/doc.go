// Package format reads and writes embstore table files.
//
// A table file holds one embedding table (rows × dim values, stored as f32,
// f16, bf16 or row-wise int8), optionally a positional table of the same
// width, and a JSON metadata document recording how the table was made. The
// layout is specified in SPEC.md beside this file: a fixed 4096-byte header
// with a section table and a CRC-32C, then page-aligned sections of
// contiguous, 64-byte-aligned rows, covering the file exactly.
//
// Version 1.1 adds four optional sections: the vocabulary (the string of
// each token row, and an open-addressing hash index from string to row that
// lookups probe in place: Vocabulary), the tokenizer (a zstd-compressed
// tokenizer.json: EncodeTokenizerSection, ParseTokenizerSection), the norms
// of the token rows as looked up (Norm, LookupValues), and fastText's
// subword rows. A Writer writes them from Layout's Vocabulary, Norms and
// Subwords fields and its WriteStrings, SetTokenizer and WriteSubwords
// methods; Layout.RowsAtMost lets the token table end at a row count known
// only at the end (Writer.EndTokens). A copy of a table rebuilds them
// byte for byte: the index from the strings, the norms from the rows, and
// the tokenizer and subword rows copied as stored (SetTokenizerSection,
// WriteSubwordRows).
//
// The types mirror the bytes: Header and Section are the decoded header and
// section table entries, DType and SectionKind the enumerations. ParseHeader
// and NewReader decode and validate; Writer and FileWriter encode.
//
// # Validation
//
// Table files come from other people and other machines, so nothing in them
// is trusted. ParseHeader checks every header field before using it: magic,
// endianness, version, header checksum, reserved bytes, feature bits, the
// file size against the size actually stored, every limit (see SPEC.md,
// "Limits"), and the placement of every section, with overflow-checked
// arithmetic, before anything is allocated or mapped from a field. Each
// broken rule is reported as a *FormatError wrapping one sentinel error
// (ErrBadMagic, ErrTruncated, ErrSectionPlacement, ...), so callers can test
// with errors.Is and people can read where the problem is. No input makes
// this package panic.
//
// Opening a file (NewReader) costs O(header): it reads the header, the
// metadata and the fixed fields of the vocabulary and tokenizer sections
// (a few dozen bytes each), never the rows or the strings. Reader.Verify
// reads everything, recomputes every checksum and checks the content of
// the 1.1 sections (every offset and index entry of the vocabulary, the
// tokenizer's decompressed document, every norm against its row).
//
// # Writing
//
// Writer streams rows (one row is held in memory, never the table), computes
// checksums as it goes and writes the header last. FileWriter adds atomicity:
// it writes to a temporary file in the destination directory, syncs it,
// renames it over the destination and syncs the directory, so the destination
// is always either the old file or the complete new one. A FileWriter ends
// with Commit or Abort; it has no Close to call by mistake.
//
// Create and CreateWith follow the destination rules of SPEC.md
// ("Destinations"): only regular files are written (ErrNotRegular for a
// device, named pipe or directory); symbolic links are followed and hard
// links broken; a replaced file keeps its mode; CreateOptions.NoReplace
// refuses an existing file and CreateOptions.Inputs a destination that is
// one of the inputs (ErrSameFile); a table larger than the free space fails
// before its first row (ErrNoSpace).
//
// # Who checks what
//
// This package owns the bytes on disk and nothing else: every rule of
// SPEC.md is checked here, once, by ParseHeader and NewReader for a file
// read (the store maps a file only after NewReader has accepted it) and by
// Layout.Header and the Writer for a file written, whoever calls them.
// The metadata's JSON is checked by the module's one strict JSON checker
// (duplicate keys, lone surrogates, depth). What a metadata document says
// (the schema embpack writes) belongs to package pack; lookup arithmetic
// to package kernel.
package format
