// Package wordvec reads and writes word vectors in the classic formats
// (word2vec binary and text, GloVe, fastText .vec and .bin) so that embpack
// can import them into a table and export them back. gensim 4.2 is the
// reference: the tests read files gensim wrote and compare every vector, bit
// for bit, with what gensim loads from them.
//
// # Reading
//
// Open (a file) and NewReader (a stream) detect compression by magic bytes
// (gzip, zstd, bzip2, a zip archive) and the format by content, unless
// Options names it:
//
//   - a fastText signature (int32 793712314) is a fastText .bin;
//   - a first line of two integers is a word2vec header, followed by text
//     rows (word2vec text or fastText .vec, which only the caller can tell
//     apart) if the next line is a word and dim values, or holds no control
//     character (a malformed text row), else by binary rows;
//   - a first line that is a word and values is GloVe (no header), its width
//     the number of values. A GloVe file whose first word is an integer and
//     which has one value per row looks like a header: name the format.
//
// Reader.Next returns the rows in file order, a Block at a time. Text is
// parsed in parallel blocks on Options.Workers goroutines and delivered in
// order; memory stays bounded (a few blocks a worker, the Vocab) whatever
// the size of the file. The source is never decompressed to disk and never
// held in memory, except the subword rows of a compressed fastText .bin
// (see FastTextModel).
//
// # Text rows
//
// A line is parsed from the right: the last dim fields, separated by single
// spaces, are the values; everything before the space that precedes them is
// the word, which may itself hold spaces, tabs or NBSP (glove.840B and
// crawl-300d-2M have such words). Trailing whitespace is ignored (fastText
// writes a space at the end of every line, Windows files a "\r"), as are
// blank lines (counted). Values parse exactly as gensim parses them: see
// ParseValue (decimal correctly rounded to float64, then to float32). A word
// that holds a space and ends in a number is refused (ErrFields): it is far
// more likely a line with one value too many than a word.
//
// # Words
//
// Words are kept as bytes. A word that is not valid UTF-8 is kept and
// counted (Stats.InvalidUTF8), or refused with Options.StrictUTF8. An empty
// word, a word with a NUL byte and a word over MaxWordBytes are refused. A
// word seen before drops its row (the first is kept, as gensim keeps it),
// counted in Stats.Duplicates and listed, up to a bound, in
// Stats.DuplicateWords. A bad line (wrong number of values, a value that is
// not a number, a bad word) fails the read with a *FormatError naming the
// line, or with Options.SkipBadLines is skipped and counted (a skipped line
// still counts as one of the rows a header claims).
//
// # Counts and limits
//
// A header that claims more or fewer rows than the file holds is an error
// saying both (gensim ignores rows past the count; we refuse). The exact
// number of rows delivered is known only at the end (duplicates and skipped
// lines drop rows; GloVe has no header): Header.Rows is an upper bound, or
// -1. Headers are
// checked before anything is sized from them: rows at most MaxRows, dim 1 to
// MaxDim; nothing is ever allocated from a count read from a file beyond
// what the data read so far holds (plus one chunk). Truncated binary rows,
// truncated fastText structures and malformed dictionaries are errors, never
// panics.
//
// # fastText
//
// A fastText .bin (version 12, or 11) holds the arguments, the dictionary
// and the input matrix of nwords + bucket rows. The rows a Reader delivers
// are the words' vectors as gensim's FastTextKeyedVectors gives them
// (wv.vectors, wv[word]): the word's own input row plus the rows of its
// character n-gram buckets, summed in float32 in n-gram order and divided
// by their count plus one. FastTextModel gives the bucket rows (for a
// second table) and out-of-vocabulary vectors; Subwords computes the
// n-gram buckets of any word (AppendBuckets, allocation-free into a reused
// slice) and the vectors over a RowFunc that fetches bucket rows from
// wherever they are (a table section, later).
//
// Where gensim and fastText differ, gensim is followed: fastText multiplies
// the sum by float32(1/n) where gensim divides by n (the last bit can
// differ), and fastText gives the end-of-sentence word "</s>" no n-grams
// where gensim gives it its n-grams. gensim reads a word that is not valid
// UTF-8 as a string with escapes and hashes that; we hash the bytes, as
// fastText does.
//
// Supervised models are read: their labels (entries of type 1, after the
// words) have no input rows and are skipped, counted in Stats.Labels
// (gensim refuses such models). Quantised models (.ftz: the quant flag set,
// or a pruned dictionary) and versions other than 11 and 12 are refused
// with ErrUnsupported.
//
// # Archives
//
// A zip archive needs random access (Open, or NewReader on an io.ReaderAt
// with a Size method). Its only file is read; an archive of several files
// (glove.6B.zip holds four, crawl-300d-2M-subword.zip a .bin and a .vec) is
// refused with their names unless Options.Member names one.
//
// # Writing
//
// Writer writes word2vec binary (a float32 round trip, bit for bit), and
// word2vec text and GloVe with the shortest decimal that reads back to the
// same float32.
package wordvec
