package format

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnePrefix: every message says "embstore: " once, at the start, then
// where, what and the offending value (issue 8 found "embstore: metadata:
// embstore: invalid metadata").
func TestOnePrefix(t *testing.T) {
	var m memFile
	w, err := NewWriter(&m, Layout{Rows: 1, Dim: 1})
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.emb")
	os.WriteFile(garbage, make([]byte, HeaderSize), 0o644)
	_, openErr := Open(garbage)
	_, layoutErr := Layout{Rows: 1, Dim: 1, ComputeDType: Int8}.Size(0)
	for _, c := range []struct {
		err  error
		is   error
		want string
	}{
		{w.SetMetadata([]byte(`[1]`)), ErrBadMetadata, "embstore: invalid metadata: not a JSON object"},
		{layoutErr, ErrBadDType, "embstore: invalid dtype: Layout.ComputeDType is int8; want F32 (or 0: no rounding), F16 or BF16"},
		{openErr, ErrBadMagic, "embstore: " + garbage + ": not an embstore table (bad magic): magic at byte 0"},
	} {
		if c.err == nil || !errors.Is(c.err, c.is) || !strings.HasPrefix(c.err.Error(), c.want) || strings.Count(c.err.Error(), "embstore:") != 1 {
			t.Errorf("got %v; want %q... wrapping %v", c.err, c.want, c.is)
		}
	}
}
