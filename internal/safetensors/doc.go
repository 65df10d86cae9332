// Package safetensors reads and writes Hugging Face safetensors files
// (https://github.com/huggingface/safetensors), strictly, so that embpack can
// import embedding tables from untrusted checkpoints and export tables back.
//
// A safetensors file is a little-endian u64 header length N, N bytes of
// UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets} plus an
// optional string-to-string "__metadata__" object, then the tensors' bytes,
// little-endian and row-major, at data_offsets counted from the end of the
// header.
//
// Open maps a file and validates its header; Rows and RowsAs then read a
// tensor as float32 rows in bounded memory, converting F16, BF16, F64,
// F8_E4M3 and F8_E5M2 exactly as PyTorch's .float() does (package
// floatconv). OpenCheckpoint opens a single file, a sharded checkpoint
// through its model.safetensors.index.json, or a directory holding either,
// with the config.json beside it. Write and WriteFile produce files in the
// reference implementation's layout.
//
// # Validation
//
// The file is untrusted. Nothing in it can make the reader panic or read
// out of bounds, and what it allocates is bounded by the header's length,
// which is at most MaxHeaderSize. The header is read into memory and parsed
// in one pass, with no token objects or tree; the parsed entries take about
// twice the header's size (202 MB of heap for a 99 MB header of 1.3 million
// tensors, about 1.5 s of CPU time), and nothing is ever allocated from a
// count or size read from the file. Every problem is a *FormatError wrapping
// one sentinel error:
//
//   - The file holds at least the 8-byte length (ErrFileTooSmall); N is at
//     most MaxHeaderSize, 100 MB (ErrHeaderTooLarge), and at most the file
//     size minus 8 (ErrHeaderLength).
//   - The header begins with '{' (ErrHeaderStart): the specification
//     requires it, although the reference reader also accepts leading
//     whitespace. It is valid UTF-8 (ErrHeaderUTF8) and well-formed JSON
//     with no unpaired UTF-16 surrogate escape (ErrHeaderSyntax). After the
//     closing '}' only JSON whitespace may follow (ErrHeaderTrailing): the
//     reference writer pads with spaces, and the reference reader accepts
//     any trailing JSON whitespace.
//   - No JSON object repeats a key: tensor names at the top level, keys of
//     __metadata__, fields of a tensor entry (ErrDuplicateKey). Keys are
//     compared after unescaping, so "a" and "\u0061" are the same key.
//   - __metadata__, if present, is an object whose values are all strings
//     (ErrMetadata); null is refused.
//   - Every other key is a tensor name, non-empty (ErrTensorName), whose
//     value is an object (ErrTensorEntry) with exactly the fields dtype,
//     shape and data_offsets: a missing field is ErrMissingField and any
//     other field ErrUnknownField, as the format's JSON schema says
//     ("additionalProperties": false). Extensions smuggled in extra fields
//     are thus refused rather than silently ignored.
//   - dtype is a string of 1 to 64 ASCII letters, digits and underscores
//     (ErrDType). A dtype this package does not know is kept as it is
//     (TensorInfo.DType) so that a file carrying, say, a newer packed type
//     beside the tensor being imported still opens; its byte length cannot
//     be checked against its shape, but its bytes must still sit in the
//     layout below, and reading it as float32 is refused
//     (ErrNotConvertible).
//   - shape is an array of at most MaxRank (64) plain non-negative JSON
//     integers no larger than MaxSize, 2^48-1 (ErrShape, ErrRank); 1.0,
//     1e3, -0 and the like are refused. The element count, folded
//     dimension by dimension, and the byte length are computed with
//     overflow checks and must not exceed MaxSize (ErrSizeOverflow), as in
//     the reference reader.
//   - data_offsets is an array of exactly two such integers [begin, end]
//     with begin <= end (ErrDataOffsets), and end - begin equals the byte
//     length the dtype and shape give (ErrSizeMismatch); packed 4- and
//     6-bit tensors must fill whole bytes.
//   - Sorted by (begin, end, name), the tensors tile the data exactly: the
//     first starts at 0 and each starts where the previous one ends (a
//     hole is ErrTensorGap, an overlap ErrTensorOverlap), no tensor runs
//     past the end of the file (ErrDataTruncated), and the last ends at the
//     end of the file (ErrTrailingData), so that nothing can hide after the
//     data (polyglot files). A tensor of zero bytes takes no space: it may
//     share its offset with the tensor that follows it but not sit inside
//     another tensor's bytes (ErrTensorOverlap), and reading it never
//     touches the file.
//
// Reading rows checks that the tensor is 2-D, or that an explicit RowsAs
// shape matches its element count (ErrNotMatrix), and that its dtype is a
// float type (ErrNotConvertible). Data need not be aligned: it is copied
// out of the file, never referenced in place. A mapped file that shrinks
// while open faults on read; Open's reader turns the fault into
// ErrReadFault instead of crashing the process.
//
// OpenCheckpoint adds the rules for sharded checkpoints and config.json:
// see its documentation and ErrIndex, ErrShardName, ErrIndexMismatch,
// ErrNoCheckpoint, ErrConfig and ErrJSONFile.
package safetensors
