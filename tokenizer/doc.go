// Package tokenizer turns text into token ids and back exactly as a Hugging
// Face tokenizer.json does, in pure Go, with no Python and no network. It is
// usable on its own; embstore uses it to store a table's tokenizer and to go
// from text to rows.
//
// # Use
//
//	data, src, err := tokenizer.FromDir("./gpt2") // tokenizer.json, else vocab.json+merges.txt, else vocab.txt
//	tk, err := tokenizer.Load(data)
//	ids := tk.Encode(nil, "Hello world", true)     // [15496 995]
//	text, err := tk.Decode(ids, false)              // "Hello world"
//
// Encode appends to a caller's buffer and, once warm, allocates nothing. A
// Tokenizer is immutable and safe for concurrent use (each call borrows
// pooled scratch memory, including a word cache of up to 10,000 BPE words).
//
// # The pipeline
//
// Encoding runs the stages of the Rust library (huggingface/tokenizers),
// with its rules, character by character:
//
//  1. Added tokens whose "normalized" is false are found in the raw text
//     (leftmost, then longest), with single_word, lstrip and rstrip.
//  2. Each piece of text between them goes through the normalizer: NFC, NFD,
//     NFKC, NFKD, Lowercase (per character, as Rust's char::to_lowercase),
//     Replace (literal patterns), Prepend, Strip, StripAccents, ByteLevel,
//     BertNormalizer, Sequence.
//  3. Normalized added tokens are found in the normalized text.
//  4. The pre-tokenizer splits the rest: ByteLevel, Split, Metaspace,
//     Whitespace, WhitespaceSplit, Digits, Punctuation, CharDelimiterSplit,
//     BertPreTokenizer, Sequence, with every split behaviour and invert.
//  5. The model turns each pre-token into ids: BPE (byte-level, or
//     SentencePiece-style with byte_fallback, fuse_unk and the ▁ metaspace;
//     unk_token, continuing_subword_prefix, end_of_word_suffix,
//     ignore_merges), WordPiece (## continuation pieces, the unknown token
//     for a word longer than max_input_chars_per_word) or WordLevel.
//  6. With add_special_tokens, the post-processor adds its special tokens:
//     TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (none),
//     Sequence.
//
// Decode maps ids to token strings and runs the decoder: ByteLevel,
// Metaspace, WordPiece, BPEDecoder, ByteFallback, Fuse, Strip, Replace
// (literal), CTC, Sequence. Unlike Hugging Face, which skips them silently,
// ids outside the vocabulary are an *IDError.
//
// BPE merges the lowest-ranked pair first, leftmost among equals, as Hugging
// Face's Word::merge_all does; words longer than 48 symbols use its priority
// queue, so a 100 KB run of one letter costs O(n log n), not O(n²).
//
// # Split patterns
//
// Hugging Face runs Split regexes with Oniguruma. The patterns of GPT-2
// (also what ByteLevel's use_regex means), LLaMA 3 / cl100k, Qwen 2-3 and
// GPT-4o / o200k use `\s+(?!\S)`, `(?i:...)`, `\p{L}`, `\p{N}{1,3}`, which Go's
// regexp cannot express; they are recognised by their exact text and run by
// hand-written scanners that follow the backtracking semantics alternative
// by alternative (the tests compare them with a backtracking regex engine on
// the corpus and on random strings). Any other Split regex is refused.
//
// # What is refused
//
// Load refuses, with a *LoadError naming the component and wrapping
// ErrUnsupported, everything it does not implement exactly: the Unigram
// model (T5, ALBERT), BPE dropout, the Precompiled and Nmt normalizers,
// Replace and Split with a regex other than the three above, UnicodeScripts
// and FixedLength pre-tokenizers, templates with more than one sequence, and
// Metaspace's prepend_scheme "first" after a normalizer that can delete
// leading characters (Hugging Face decides "first" from character alignments
// that this package does not track). It refuses malformed and hostile files
// with a *LoadError too: duplicate tokens or ids, negative ids or ids past
// 2³¹, id spaces with gaps larger than 4x the vocabulary, merges of unknown
// tokens, components nested more than 16 deep, added tokens whose id is not
// the one Hugging Face would give them. truncation and padding are not
// applied (Info lists them): like transformers by default, Encode returns the
// whole text.
//
// # Input that is not UTF-8
//
// Hugging Face takes Rust strings, which are valid UTF-8. Encode repairs
// ill-formed input first: each maximal ill-formed subpart becomes U+FFFD, as
// Rust's String::from_utf8_lossy and Python's bytes.decode(errors="replace")
// do, so Encode(b) equals Encode of the repaired text.
//
// # Legacy files and configuration
//
// Canonical (and FromDir) make the one tokenizer.json that stands for a
// model's files: tokenizer.json itself, or what transformers builds from
// GPT-2/RoBERTa vocab.json + merges.txt or BERT vocab.txt, honouring
// tokenizer_config.json and special_tokens_map.json (special tokens,
// do_lower_case, tokenize_chinese_chars, strip_accents, add_prefix_space,
// add_bos_token). transformers' clean_up_tokenization_spaces, which is not
// part of tokenizer.json, is written into the canonical file as standard
// decoders (Fuse, then one Replace per rule), so that the file alone decodes
// as transformers does.
//
// # Oracles
//
// The tests check every text of a corpus of 164 hard texts against the ids
// and decodings of transformers.js (@huggingface/transformers 4.3.1) for
// GPT-2, a LLaMA-2-family SentencePiece BPE, LLaMA 3, Qwen 3 and BERT, with
// and without special tokens. Where transformers.js is known to differ from
// the Rust library, this package follows Rust, which is what transformers
// and most users run:
//
//   - GPT-2's split: transformers.js uses the JavaScript \s (with U+FEFF,
//     without U+0085); Oniguruma's \s is Unicode White_Space, as here and in
//     tiktoken (whose ids the tests use for those texts);
//   - BertNormalizer: transformers.js does not isolate supplementary-plane CJK
//     ideographs, lowercases a final capital sigma to ς and keeps unassigned
//     code points; Rust isolates them, gives σ, drops Cn.
//
// # Unicode versions
//
// Character classes come from Go's unicode tables (Unicode 15.0) and
// golang.org/x/text (normalization). The Rust library uses Rust's std tables
// (newer) for white space and case, and the unicode_categories crate (older
// tables) for BertNormalizer's control test, punctuation and accents; a
// character assigned between those versions may be classified differently.
// No text of the test corpus is affected.
package tokenizer
