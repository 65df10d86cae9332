package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
)

// TestOpenVerify checks Options.Verify: a verified open of an intact table
// succeeds and reports how long verification took (within the time Open
// took), a plain open reports zero; damage that only verification sees is
// refused by a verified open, for the right rule, in every map mode and on
// the copy-out path, while a plain open accepts it.
func TestOpenVerify(t *testing.T) {
	l := format.Layout{Rows: 2000, Dim: 250, Positions: 5, Alignment: 1 << 16}
	path, _, _ := writeTable(t, l)
	plain := openTable(t, path)
	if st, _ := plain.Stats(); st.VerifyDuration != 0 {
		d := st.VerifyDuration
		t.Fatalf("VerifyDuration without Verify = %v", d)
	}
	h := plain.Header()
	tok, pos := h.Tokens(), h.Sections[1]
	md, _ := h.Section(format.SectionMetadata)

	start := time.Now()
	tab, err := Open(path, &Options{Verify: true})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := tab.Stats(); st.VerifyDuration <= 0 || st.VerifyDuration > took {
		d := st.VerifyDuration
		t.Fatalf("VerifyDuration = %v; Open took %v", d, took)
	}
	tab.Close()

	dir := t.TempDir()
	damage := []struct {
		name string
		off  int64
		fix  bool // recompute the section CRCs, so that only the padding rule is broken
		want error
	}{
		{"token row", tok.Offset + 1000*tok.RowStride + 17, false, format.ErrChecksum},
		{"last token byte", tok.End() - 1, false, format.ErrChecksum},
		{"token row padding", tok.Offset + 3*tok.RowStride + 1000, true, format.ErrPaddingNonZero},
		{"padding after tokens", tok.End() + 100, false, format.ErrPaddingNonZero},
		{"positional row", pos.Offset + 4, false, format.ErrChecksum},
		{"padding after positions", md.Offset - 1, false, format.ErrPaddingNonZero},
	}
	for i, d := range damage {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[d.off] ^= 0x04
		if d.fix {
			for s, sec := range h.Sections {
				e := 128 + 48*s
				binary.LittleEndian.PutUint32(b[e+44:], format.CRC(b[sec.Offset:sec.End()]))
			}
			binary.LittleEndian.PutUint32(b[format.HeaderSize-4:], format.CRC(b[:format.HeaderSize-4]))
		}
		p := filepath.Join(dir, fmt.Sprintf("damaged%d.emb", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		tab, err := Open(p, nil)
		if err != nil {
			t.Fatalf("%s: plain Open = %v", d.name, err)
		}
		tab.Close()
		for _, mode := range []MapMode{MapLazy, MapPopulate, MapAnonHugePages} {
			for _, copyOut := range []bool{false, true} {
				copyOutForTest = copyOut
				tab, err := Open(p, &Options{Verify: true, Mode: mode, Threads: 3})
				copyOutForTest = false
				if err == nil {
					tab.Close()
				}
				if !errors.Is(err, d.want) {
					t.Errorf("%s, %s, copyOut=%v: verified Open = %v; want %v", d.name, mode, copyOut, err, d.want)
				}
			}
		}
	}
}
