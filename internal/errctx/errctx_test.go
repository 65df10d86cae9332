package errctx

import (
	"errors"
	"io"
	"testing"
)

func TestIn(t *testing.T) {
	base := errors.New("embstore: invalid metadata")
	for _, c := range []struct {
		err   error
		where string
		want  string
	}{
		{base, "t.emb", "embstore: t.emb: invalid metadata"},
		{errors.New("kernel: output holds 3 values"), "", "embstore: output holds 3 values"},
		{io.ErrUnexpectedEOF, "read header of t.emb", "embstore: read header of t.emb: unexpected EOF"},
	} {
		err := In("embstore", c.where, c.err)
		if err.Error() != c.want {
			t.Errorf("In(%q, %v) = %q; want %q", c.where, c.err, err, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("In(%q, %v) does not wrap it", c.where, c.err)
		}
	}
	if In("embstore", "x", nil) != nil {
		t.Error("In of nil is not nil")
	}
}
