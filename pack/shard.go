package pack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/atomicfile"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/shardmeta"
)

// Sharding splits a table into row-range tables, as TorchRec's row-wise
// sharding does: shard i holds rows [RowStart, RowEnd) of the token table
// as its rows 0 to RowEnd-RowStart-1, and is an ordinary table that any
// reader opens. What each section becomes:
//
//	tokens      the shard's range of rows, copied byte for byte
//	positions   the whole positional table, in every shard
//	norms       the range's norms: the writer computes them from the
//	            rows it copies, and the shard is refused unless they are
//	            the source's norms of those rows, byte for byte
//	vocabulary  the strings of the range's rows, as the shard's ids 0 to
//	            n-1 (row i of the shard has the string of row start+i of
//	            the table), with the hash index built again over them
//	tokenizer   the whole section, as stored (not compressed again), in
//	            every shard: its ids are the whole table's, so checks of
//	            a shard's tokenizer take the table's rows ("rows_total")
//	metadata    the shard's own: the "shard" key (table, version, index,
//	            count, range), the original's "pooling", "vocabulary" and
//	            "tokenizer" keys, and the "original" key (the source's
//	            size, header checksum and metadata document, byte for byte)
//
// Unshard concatenates the ranges (rows, and the strings of the
// vocabulary), takes the positional table and tokenizer of shard 0 and the
// original metadata, and writes them through the same writer with the same
// layout, which gives the source file back bit for bit: the writer derives
// the norms from the rows and the vocabulary's index from the strings in
// row order alone (format/SPEC.md requires the index to be exactly the one
// its procedure builds, so every valid file's vocabulary is that function
// of its strings). It checks the header checksum it wrote, which covers
// every section's, against the source's, recorded in every shard, before
// committing.
//
// Tables with a subwords section (fastText's buckets) are refused: see
// ErrSubwordsNotSharded.

// ManifestName is the name of the manifest in a shard directory.
const ManifestName = "manifest.json"

// ManifestFormat is the "format" value of a manifest.
const ManifestFormat = "embstore-shards/1"

// A ShardSpec says how to split a table.
type ShardSpec struct {
	// Name is the table's name, recorded in every shard and the manifest;
	// "" means the source file's base name without ".emb".
	Name string
	// Version is the table's version, 1 or more; 0 means 1. Servers
	// announce it and clients switch to a newer one when every shard of it
	// is served.
	Version uint64
	// Shards is the number of shards, 1 to the table's row count.
	Shards int
}

// A Manifest describes a shard directory (DIR/manifest.json).
type Manifest struct {
	Format         string          `json:"format"` // ManifestFormat
	Table          string          `json:"table"`
	Version        uint64          `json:"version"`
	Rows           int64           `json:"rows"`
	Dim            int             `json:"dim"`
	DType          string          `json:"dtype"`
	Positions      int64           `json:"positions"`
	Source         ManifestSource  `json:"source"`
	Shards         []ManifestShard `json:"shards"`
	ShardFileBytes int64           `json:"shard_file_bytes"` // the largest shard file, for sizing servers
}

// ManifestSource identifies the file that was split.
type ManifestSource struct {
	File      string `json:"file"` // base name
	Size      int64  `json:"size"`
	HeaderCRC uint32 `json:"header_crc32c"`
}

// A ManifestShard is one shard file of a manifest.
type ManifestShard struct {
	Index     int    `json:"index"`
	RowStart  int64  `json:"row_start"`
	RowEnd    int64  `json:"row_end"`
	File      string `json:"file"` // base name, in the manifest's directory
	Size      int64  `json:"size"`
	HeaderCRC uint32 `json:"header_crc32c"`
}

// ShardFileName returns the file name of shard index of count of a table.
func ShardFileName(table string, version uint64, index, count int) string {
	return fmt.Sprintf("%s-v%d-%05d-of-%05d.emb", table, version, index, count)
}

// shardableKinds are the sections Shard knows how to split. A table with
// any other section is refused rather than split without it.
var shardableKinds = map[format.SectionKind]bool{
	format.SectionTokens:     true,
	format.SectionPositions:  true,
	format.SectionNorms:      true,
	format.SectionVocabulary: true,
	format.SectionTokenizer:  true,
	format.SectionMetadata:   true,
}

// ErrSubwordsNotSharded is the reason (UnsplittableError.Err) a table with
// fastText subwords is not split: its bucket rows are shared by every word
// rather than owned by a row range, so a shard would need all of them, and a
// shard asked for a word that another shard holds would answer with the
// word's out-of-vocabulary vector (built from its n-grams) instead of
// refusing it. Splitting such tables is not written yet.
var ErrSubwordsNotSharded = errors.New("fastText subword rows cannot be split by row range yet")

// errUnknownSection is the reason a table with a section this embpack
// does not know is not split.
var errUnknownSection = errors.New("this embpack cannot split it")

// An UnsplittableError says that Shard (or Unshard) cannot split (or join)
// a table because of one of its sections: one this embpack does not know,
// or a subwords section (ErrSubwordsNotSharded).
type UnsplittableError struct {
	Path    string             // the table file
	Section format.SectionKind // the section
	Err     error              // why
}

func (e *UnsplittableError) Error() string {
	return fmt.Sprintf("%s: section %s: %v", e.Path, e.Section, e.Err)
}

// Unwrap returns why the section cannot be split.
func (e *UnsplittableError) Unwrap() error { return e.Err }

// checkKinds refuses a table with a section Shard cannot split.
func checkKinds(name string, in *format.Reader) error {
	for _, s := range in.Sections {
		switch {
		case s.Kind == format.SectionSubwords:
			return &UnsplittableError{Path: name, Section: s.Kind, Err: ErrSubwordsNotSharded}
		case !shardableKinds[s.Kind]:
			return &UnsplittableError{Path: name, Section: s.Kind, Err: errUnknownSection}
		}
	}
	return nil
}

// Shard splits the table at src into spec.Shards row-range tables in dir
// (created if needed), named by ShardFileName, and writes dir/manifest.json
// last. Each file is written atomically; if a shard fails (or ctx ends),
// the shards this call wrote are removed and no manifest is written.
// Options apply to every shard file and the manifest.
func Shard(ctx context.Context, src, dir string, spec ShardSpec, o *Options) (*Manifest, error) {
	o = opts(o)
	in, err := format.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if spec.Name == "" {
		spec.Name = strings.TrimSuffix(filepath.Base(src), ".emb")
	}
	if spec.Version == 0 {
		spec.Version = 1
	}
	switch {
	case !shardmeta.ValidName(spec.Name):
		return nil, &SpecError{Field: "ShardSpec.Name", Value: fmt.Sprintf("%q", spec.Name), Problem: "want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"}
	case spec.Shards < 1 || int64(spec.Shards) > in.Rows:
		return nil, &SpecError{Field: "ShardSpec.Shards", Value: spec.Shards, Problem: fmt.Sprintf("want 1 to %d, the table's rows", in.Rows)}
	}
	if err := checkShardable(src, in.Reader); err != nil {
		return nil, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if manifest := filepath.Join(dir, ManifestName); o.NoReplace {
		if _, err := os.Lstat(manifest); err == nil { // refuse before writing any shard
			return nil, &fs.PathError{Op: "create", Path: manifest, Err: fs.ErrExist}
		}
	}
	m := &Manifest{
		Format: ManifestFormat, Table: spec.Name, Version: spec.Version,
		Rows: in.Rows, Dim: in.Dim, DType: in.DType.String(), Positions: in.Positions(),
		Source: ManifestSource{File: filepath.Base(src), Size: st.Size(), HeaderCRC: in.CRC},
	}
	orig := shardmeta.Original{FileSize: in.FileSize, HeaderCRC: in.CRC, Metadata: in.Metadata()}
	src11, err := readWhole(in.Reader)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	count := o.counter(in.Rows + int64(spec.Shards)*in.Positions())
	var written []string
	for i := range spec.Shards {
		start, end := shardmeta.Range(i, spec.Shards, in.Rows)
		info := shardmeta.Info{Table: spec.Name, Version: spec.Version, Index: i, Count: spec.Shards,
			RowStart: start, RowEnd: end, RowsTotal: in.Rows}
		name := ShardFileName(spec.Name, spec.Version, i, spec.Shards)
		path := filepath.Join(dir, name)
		h, err := writeShard(ctx, path, src, in.Reader, src11, info, orig, o, count.add)
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
			return nil, fmt.Errorf("shard %d of %d: %w", i, spec.Shards, err)
		}
		written = append(written, path)
		m.Shards = append(m.Shards, ManifestShard{Index: i, RowStart: start, RowEnd: end, File: name,
			Size: h.FileSize, HeaderCRC: h.CRC})
		m.ShardFileBytes = max(m.ShardFileBytes, h.FileSize)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'), &atomicfile.Options{NoReplace: o.NoReplace}); err != nil {
		for _, p := range written {
			os.Remove(p)
		}
		return nil, err
	}
	return m, nil
}

// checkShardable refuses tables that Shard cannot split and Unshard could
// not then rebuild bit for bit: sections it does not know, feature bits,
// another minor version, or a layout other than the one the writer makes
// (a wider row stride, say, which the format allows).
func checkShardable(name string, in *format.Reader) error {
	if err := checkKinds(name, in); err != nil {
		return err
	}
	if d, err := shardmeta.Parse(in.Metadata()); err == nil {
		return fmt.Errorf("%s is already shard %d of %d of table %s; unshard the set first", name, d.Info.Index, d.Info.Count, d.Info.Table)
	}
	var lengths format.SectionLengths
	for _, s := range in.Sections {
		switch s.Kind {
		case format.SectionVocabulary:
			lengths.Vocabulary = s.Length
		case format.SectionTokenizer:
			lengths.Tokenizer = s.Length
		case format.SectionMetadata:
			lengths.Metadata = s.Length
		}
	}
	want, err := tableLayout(in, in.Rows).HeaderWith(lengths)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The writer records the lowest minor version that describes the file.
	if in.Minor != want.Minor || in.RequiredFeatures != 0 || in.OptionalFeatures != 0 {
		return fmt.Errorf("%s: format %d.%d with features %#x/%#x: this embpack writes such a table as %d.%d without features, so it could not rebuild the file from its shards",
			name, in.Major, in.Minor, in.RequiredFeatures, in.OptionalFeatures, want.Major, want.Minor)
	}
	same := len(want.Sections) == len(in.Sections) && want.FileSize == in.FileSize
	for i := 0; same && i < len(want.Sections); i++ {
		a, b := want.Sections[i], in.Sections[i]
		a.CRC, b.CRC = 0, 0
		same = a == b
	}
	if !same {
		return fmt.Errorf("%s is laid out differently from the files embpack writes (row stride %d, alignment %d): it could not be rebuilt from its shards bit for bit",
			name, in.RowStride, in.Alignment)
	}
	return nil
}

// tableLayout is the layout of a table like r (a table being split, or a
// shard of a set being joined) with rows token rows: a shard's, or the
// whole table's when joining shards. The sections other than the rows'
// (norms, vocabulary) follow r's.
func tableLayout(r *format.Reader, rows int64) format.Layout {
	l := r.Layout()
	l.Rows = rows
	return l
}

// whole holds the sections of a table that a shard takes from it whole or
// by strings rather than by rows: its vocabulary and tokenizer section.
type whole struct {
	vocab     *format.Vocabulary // nil without a vocabulary section
	tokenizer []byte             // the section as stored, nil without one
}

// readWhole reads the vocabulary and tokenizer sections of r, if it has
// them.
func readWhole(r *format.Reader) (*whole, error) {
	var w whole
	if _, ok := r.VocabInfo(); ok {
		v, err := r.Vocabulary()
		if err != nil {
			return nil, err
		}
		w.vocab = v
	}
	if s, ok := r.Section(format.SectionTokenizer); ok {
		w.tokenizer = make([]byte, s.Length)
		if _, err := io.ReadFull(r.SectionReader(s), w.tokenizer); err != nil {
			return nil, fmt.Errorf("read tokenizer section: %w", err)
		}
	}
	return &w, nil
}

// writeStrings writes the strings of rows [first, first+n) of v to fw, in
// row order: they become fw's rows 0 to n-1.
func writeStrings(v *format.Vocabulary, first, n int64, fw *format.FileWriter) error {
	const batch = 4096
	strs := make([][]byte, 0, min(n, batch))
	for id := first; id < first+n; id++ {
		s, err := v.String(id)
		if err != nil {
			return err
		}
		if strs = append(strs, s); len(strs) == batch || id == first+n-1 {
			if err := fw.WriteStrings(strs...); err != nil {
				return err
			}
			strs = strs[:0]
		}
	}
	return nil
}

// writeShard writes the shard info describes, from the table in (whose
// vocabulary and tokenizer are w), and returns its header (its size and
// CRC, for the manifest).
func writeShard(ctx context.Context, path, src string, in *format.Reader, w *whole, info shardmeta.Info, orig shardmeta.Original, o *Options, done func(int64)) (*format.Header, error) {
	md, err := shardmeta.Build(&shardmeta.Doc{Creator: o.creator(), Info: info, Original: orig})
	if err != nil {
		return nil, err
	}
	n := info.RowEnd - info.RowStart
	fw, err := create(path, tableLayout(in, n), o, src)
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	if err := copyRawRows(ctx, in, in.Tokens(), info.RowStart, n, fw.WriteTokenRows, done); err != nil {
		return nil, err
	}
	if s, ok := in.Section(format.SectionPositions); ok {
		if err := copyRawRows(ctx, in, s, 0, s.Rows, fw.WritePositionRows, done); err != nil {
			return nil, err
		}
	}
	if w.vocab != nil {
		if err := writeStrings(w.vocab, info.RowStart, n, fw); err != nil {
			return nil, fmt.Errorf("vocabulary: %w", err)
		}
	}
	if w.tokenizer != nil {
		if err := fw.SetTokenizerSection(w.tokenizer); err != nil {
			return nil, err
		}
	}
	if err := fw.SetMetadata(md); err != nil {
		return nil, fmt.Errorf("%w (the shard's metadata holds the original's, %d bytes)", err, len(orig.Metadata))
	}
	h, err := fw.Finish()
	if err != nil {
		return nil, err
	}
	if s, ok := in.Section(format.SectionNorms); ok {
		// The writer computed the norms from the rows; they must be the
		// source's, or the join would not give the source back.
		b := make([]byte, 4*n)
		if _, err := in.SectionReader(s).ReadAt(b, 4*info.RowStart); err != nil {
			return nil, fmt.Errorf("read norms: %w", err)
		}
		if got, _ := h.Section(format.SectionNorms); got.CRC != format.CRC(b) {
			return nil, fmt.Errorf("the norms section of %s does not hold the norms of rows [%d, %d) (embpack verify checks them)", src, info.RowStart, info.RowEnd)
		}
	}
	return h, fw.Commit()
}

// copyRawRows copies rows [first, first+n) of row section s of r, as
// stored, to write, in pieces of about 1 MiB.
func copyRawRows(ctx context.Context, r *format.Reader, s format.Section, first, n int64, write func([]byte) error, done func(int64)) error {
	sr := r.SectionReader(s)
	err := stream(ctx, n, max(1, chunkBytes/s.RowStride), s.RowStride,
		func(buf []byte, k, m int64) error {
			if got, err := sr.ReadAt(buf, (first+k)*s.RowStride); got < len(buf) {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("read: %w", err)
			}
			return nil
		}, write, done)
	return errctx.In("embstore", s.Kind.String(), err)
}

// ReadManifest reads and checks dir/manifest.json: its format, its shards
// in order, their ranges covering the rows without gaps or overlaps.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, m.Format, ManifestFormat)
	}
	if !shardmeta.ValidName(m.Table) || m.Version < 1 || m.Rows < 1 || len(m.Shards) < 1 || int64(len(m.Shards)) > m.Rows {
		return nil, fmt.Errorf("%s: table %q version %d of %d rows in %d shards: not a valid set", path, m.Table, m.Version, m.Rows, len(m.Shards))
	}
	next := int64(0)
	for i, s := range m.Shards {
		if s.Index != i || s.RowStart != next || s.RowEnd <= s.RowStart || s.RowEnd > m.Rows {
			return nil, fmt.Errorf("%s: shard %d: index %d, rows [%d, %d): want index %d starting at row %d", path, i, s.Index, s.RowStart, s.RowEnd, i, next)
		}
		if s.File != filepath.Base(s.File) || s.File == "." || s.File == ".." {
			return nil, fmt.Errorf("%s: shard %d: file %q is not a name in the directory", path, i, s.File)
		}
		next = s.RowEnd
	}
	if next != m.Rows {
		return nil, fmt.Errorf("%s: the shards end at row %d of %d", path, next, m.Rows)
	}
	return &m, nil
}

// A ShardCheck is the result of checking one shard file of a directory.
type ShardCheck struct {
	File string
	Err  error // nil if the file is what the manifest says, and every checksum holds
}

// VerifyShards checks the shard directory dir against its manifest: every
// shard file is there with the size and header checksum recorded, its
// metadata names the table, version, index and range of the manifest, every
// checksum of it holds (format.Reader.Verify), and all shards agree on the
// shape and on the original file they came from. It returns one check per
// shard and an error joining the failures.
func VerifyShards(ctx context.Context, dir string) ([]ShardCheck, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	var checks []ShardCheck
	var errs []error
	var opened []*shardFile
	defer func() {
		for _, sf := range opened {
			sf.f.Close()
		}
	}()
	for _, ms := range m.Shards {
		if err := ctx.Err(); err != nil {
			return checks, err
		}
		sf, err := openShard(dir, m, ms)
		if err == nil {
			opened = append(opened, sf)
			if _, verr := sf.f.Verify(); verr != nil {
				err = fmt.Errorf("%s: %w", ms.File, verr)
			} else if len(opened) > 1 {
				err = sameSet(opened[0], sf)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
		checks = append(checks, ShardCheck{File: ms.File, Err: err})
	}
	return checks, errors.Join(errs...)
}

// A shardFile is an open shard with its metadata.
type shardFile struct {
	f   *format.File
	doc *shardmeta.Doc
}

// openShard opens shard ms of manifest m in dir and checks it against the
// manifest (not its row checksums). The caller closes it.
func openShard(dir string, m *Manifest, ms ManifestShard) (*shardFile, error) {
	f, err := format.Open(filepath.Join(dir, ms.File))
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*shardFile, error) {
		f.Close()
		return nil, fmt.Errorf("%s: "+format, append([]any{ms.File}, args...)...)
	}
	if f.FileSize != ms.Size || f.CRC != ms.HeaderCRC {
		return fail("%d bytes with header checksum %#08x; the manifest says %d bytes, %#08x", f.FileSize, f.CRC, ms.Size, ms.HeaderCRC)
	}
	doc, err := shardmeta.Parse(f.Metadata())
	if err != nil {
		return fail("%v", err)
	}
	want := shardmeta.Info{Table: m.Table, Version: m.Version, Index: ms.Index, Count: len(m.Shards),
		RowStart: ms.RowStart, RowEnd: ms.RowEnd, RowsTotal: m.Rows}
	if doc.Info != want {
		return fail("its metadata says %+v; the manifest %+v", doc.Info, want)
	}
	if err := doc.Info.Validate(f.Rows); err != nil {
		return fail("%v", err)
	}
	if doc.Original.FileSize != m.Source.Size || doc.Original.HeaderCRC != m.Source.HeaderCRC {
		return fail("split from a file of %d bytes with header checksum %#08x; the manifest's source has %d bytes, %#08x",
			doc.Original.FileSize, doc.Original.HeaderCRC, m.Source.Size, m.Source.HeaderCRC)
	}
	if f.Dim != m.Dim || f.DType.String() != m.DType || f.Positions() != m.Positions {
		return fail("%d values of %s with %d positions; the manifest says %d of %s with %d", f.Dim, f.DType, f.Positions(), m.Dim, m.DType, m.Positions)
	}
	return &shardFile{f: f, doc: doc}, nil
}

// sameSet checks that shard b belongs with shard a: the same shape,
// conventions and positional table, split from the same file.
func sameSet(a, b *shardFile) error {
	ha, hb := a.f.Header, b.f.Header
	pa, _ := ha.Section(format.SectionPositions)
	pb, _ := hb.Section(format.SectionPositions)
	switch {
	case ha.Dim != hb.Dim || ha.DType != hb.DType || ha.RowStride != hb.RowStride || ha.Alignment != hb.Alignment ||
		ha.PositionOffset != hb.PositionOffset || ha.TokenScale != hb.TokenScale || ha.ComputeDType != hb.ComputeDType:
		return fmt.Errorf("shard %d: its layout differs from shard %d's", b.doc.Info.Index, a.doc.Info.Index)
	case pa.Rows != pb.Rows || pa.CRC != pb.CRC:
		return fmt.Errorf("shard %d: its positional table differs from shard %d's", b.doc.Info.Index, a.doc.Info.Index)
	case a.doc.Original.FileSize != b.doc.Original.FileSize || a.doc.Original.HeaderCRC != b.doc.Original.HeaderCRC ||
		string(a.doc.Original.Metadata) != string(b.doc.Original.Metadata):
		return fmt.Errorf("shard %d: split from another file than shard %d", b.doc.Info.Index, a.doc.Info.Index)
	}
	la, lb := a.f.Layout(), b.f.Layout()
	la.Rows, lb.Rows = 0, 0
	if la != lb {
		return fmt.Errorf("shard %d: its sections differ from shard %d's", b.doc.Info.Index, a.doc.Info.Index)
	}
	ta, oka := ha.Section(format.SectionTokenizer)
	tb, okb := hb.Section(format.SectionTokenizer)
	if oka != okb || ta.Length != tb.Length || ta.CRC != tb.CRC {
		return fmt.Errorf("shard %d: its tokenizer differs from shard %d's", b.doc.Info.Index, a.doc.Info.Index)
	}
	return nil
}

// Unshard joins the shards of dir (as its manifest lists them) into the
// table they were split from, written atomically to dst: the same bytes as
// the original file. It refuses a set whose shards disagree, and checks the
// header it wrote (which covers every section's checksum) against the
// original's before committing, so damage in what it reads (rows, strings,
// shard 0's positional table and tokenizer) is caught rather than joined.
// It does not read the sections the join takes from elsewhere (norms, which
// the writer computes from the rows; the other shards' copies of the
// positional table and tokenizer), so damage there does not stop it: the
// header check proves the result is the original; VerifyShards finds it.
// dst must not be one of the shards or the manifest.
func Unshard(ctx context.Context, dir, dst string, o *Options) error {
	o = opts(o)
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	shards := make([]*shardFile, 0, len(m.Shards))
	defer func() {
		for _, s := range shards {
			s.f.Close()
		}
	}()
	for _, ms := range m.Shards {
		sf, err := openShard(dir, m, ms)
		if err != nil {
			return err
		}
		shards = append(shards, sf)
		if err := checkKinds(ms.File, sf.f.Reader); err != nil {
			return err
		}
		if len(shards) > 1 {
			if err := sameSet(shards[0], sf); err != nil {
				return err
			}
		}
	}
	first := shards[0]
	orig := first.doc.Original
	layout := tableLayout(first.f.Reader, m.Rows)
	count := o.counter(m.Rows + first.f.Positions())
	inputs := []string{filepath.Join(dir, ManifestName)}
	for _, ms := range m.Shards {
		inputs = append(inputs, filepath.Join(dir, ms.File))
	}
	fw, err := create(dst, layout, o, inputs...)
	if err != nil {
		return err
	}
	defer fw.Abort()
	if err := writeJoined(ctx, fw, shards, orig, count.add); err != nil {
		return err
	}
	h, err := fw.Finish()
	if err != nil {
		return err
	}
	if h.CRC != orig.HeaderCRC || h.FileSize != orig.FileSize {
		return fmt.Errorf("the joined table would differ from the original: header checksum %#08x and %d bytes, want %#08x and %d bytes (a shard is damaged, or was not made by embpack shard)",
			h.CRC, h.FileSize, orig.HeaderCRC, orig.FileSize)
	}
	return fw.Commit()
}

// writeJoined writes the sections of the joined table to fw: the rows and
// strings of every shard in order, the positional table and tokenizer of
// shard 0 (sameSet checked that they agree) and the original metadata.
func writeJoined(ctx context.Context, fw *format.FileWriter, shards []*shardFile, orig shardmeta.Original, done func(int64)) error {
	for _, sf := range shards {
		if err := copyRawRows(ctx, sf.f.Reader, sf.f.Tokens(), 0, sf.f.Rows, fw.WriteTokenRows, done); err != nil {
			return fmt.Errorf("shard %d: %w", sf.doc.Info.Index, err)
		}
	}
	first := shards[0]
	if s, ok := first.f.Section(format.SectionPositions); ok {
		if err := copyRawRows(ctx, first.f.Reader, s, 0, s.Rows, fw.WritePositionRows, done); err != nil {
			return err
		}
	}
	for _, sf := range shards {
		w, err := readWhole(sf.f.Reader)
		if err != nil {
			return fmt.Errorf("shard %d: %w", sf.doc.Info.Index, err)
		}
		if w.vocab != nil {
			if err := writeStrings(w.vocab, 0, sf.f.Rows, fw); err != nil {
				return fmt.Errorf("shard %d: vocabulary: %w", sf.doc.Info.Index, err)
			}
		}
		if sf == first && w.tokenizer != nil {
			if err := fw.SetTokenizerSection(w.tokenizer); err != nil {
				return fmt.Errorf("shard %d: %w", sf.doc.Info.Index, err)
			}
		}
	}
	if orig.Metadata != nil {
		return fw.SetMetadata(orig.Metadata)
	}
	return nil
}
