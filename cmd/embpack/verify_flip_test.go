package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
)

// TestVerifyCatchesEveryFlippedBit flips single bits of a table with a
// positional table and metadata, one at a time, and runs embpack verify on
// it: every header byte, the first, second, middle and last bytes of every
// section and of every padding run, every metadata byte, and every 97th
// byte elsewhere. Each flip must make verify fail with exit status 1 and one
// line on stderr, and the table must pass again once the bit is restored.
func TestVerifyCatchesEveryFlippedBit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.emb")
	if code, _, stderr := runCmd(t, "init", "--rows", "50", "--dim", "24", "--seed", "8", "--positions", "6", "-q", "-o", path); code != 0 {
		t.Fatal(stderr)
	}
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := f.Header
	f.Close()
	if _, ok := h.Section(format.SectionMetadata); !ok || h.Positions() == 0 {
		t.Fatalf("table without positions or metadata: %+v", h.Sections)
	}

	offsets := map[int64]bool{}
	for off := range int64(format.HeaderSize) {
		offsets[off] = true
	}
	mark := func(lo, hi int64) { // first, second, middle and last byte of [lo, hi)
		for _, off := range []int64{lo, lo + 1, (lo + hi) / 2, hi - 1} {
			if off >= lo && off < hi {
				offsets[off] = true
			}
		}
	}
	for i, s := range h.Sections {
		mark(s.Offset, s.End())
		if i+1 < len(h.Sections) {
			mark(s.End(), h.Sections[i+1].Offset)
		}
		if s.Kind == format.SectionMetadata {
			for off := s.Offset; off < s.End(); off++ {
				offsets[off] = true
			}
		}
		if s.Kind.IsRows() {
			// The padding at the end of the first and last rows.
			rowSize := s.DType.RowSize(h.Dim)
			for _, r := range []int64{0, s.Rows - 1} {
				mark(s.Offset+r*s.RowStride+rowSize, s.Offset+(r+1)*s.RowStride)
			}
		}
	}
	for off := int64(0); off < h.FileSize; off += 97 {
		offsets[off] = true
	}

	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	flip := func(off int64, bit byte) {
		b := make([]byte, 1)
		if _, err := file.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= bit
		if _, err := file.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	for off := range h.FileSize {
		if !offsets[off] {
			continue
		}
		bit := byte(1) << (off % 8)
		flip(off, bit)
		code, _, stderr := runCmd(t, "verify", "-q", path)
		if code != cli.ExitFail || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "panic") {
			t.Fatalf("bit %#x of byte %d flipped: verify exit %d, stderr %q; want exit 1 and one line", bit, off, code, stderr)
		}
		flip(off, bit)
	}
	t.Logf("%d flips of a %d-byte table caught", len(offsets), h.FileSize)
	if code, stdout, stderr := runCmd(t, "verify", path); code != 0 || !strings.Contains(stdout, "checks passed") {
		t.Fatalf("restored table: exit %d\n%s%s", code, stdout, stderr)
	}
}
