package pooling

import (
	"slices"
	"strings"
	"testing"
)

func TestFromMetadata(t *testing.T) {
	for _, c := range []struct {
		md   string
		want Pooling
		err  string
	}{
		{"", Default, ""},
		{`{}`, Default, ""},
		{`{"creator": "x", "pooling": null}`, Default, ""},
		{`{"pooling": {"mode": "cls"}}`, Pooling{Mode: CLS}, ""},
		{`{"pooling": {"mode": "mean", "normalize": true}}`, Pooling{Mode: Mean, Normalize: true}, ""},
		{`{"pooling": {"mode": "last", "normalize": false}}`, Pooling{Mode: Last}, ""},
		{`{"pooling": {"normalize": true}}`, Pooling{Mode: Mean, Normalize: true}, ""},
		{`{"pooling": {"mode": "max"}}`, Pooling{Mode: Max}, ""},
		{`{"pooling": {"mode": "weighted"}}`, Default, `pooling mode "weighted": want mean, max, cls or last`},
		{`{"pooling": "mean"}`, Default, `metadata "pooling": "mean"; want {`},
		{`{"pooling": {"mode": 1}}`, Default, `metadata "pooling": {"mode": 1}`},
	} {
		got, err := FromMetadata([]byte(c.md))
		if c.err == "" && (err != nil || got != c.want) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("FromMetadata(%s) = %+v, %v; want %+v, %q", c.md, got, err, c.want, c.err)
		}
	}
}

func TestParseMode(t *testing.T) {
	for i, n := range Names {
		if m, err := ParseMode(n); err != nil || m != Mode(i) || m.String() != n {
			t.Fatalf("ParseMode(%q) = %v, %v", n, m, err)
		}
	}
	if _, err := ParseMode("CLS"); err == nil {
		t.Fatal("ParseMode accepts CLS")
	}
}

func TestPick(t *testing.T) {
	ids := []int64{10, 11, 12, 20, 30, 31}
	starts := []int64{0, 3, 4}
	if got := Pick(nil, ids, starts, CLS); !slices.Equal(got, []int64{10, 20, 30}) {
		t.Fatalf("CLS: %v", got)
	}
	if got := Pick(nil, ids, starts, Last); !slices.Equal(got, []int64{12, 20, 31}) {
		t.Fatalf("Last: %v", got)
	}
}

func TestNormalize(t *testing.T) {
	v := []float32{3, 4, 0, 0, 0, 0, 1e-30, -1e-30}
	Normalize(v, 2)
	tiny := float32(1e-30)
	want := []float32{0.6, 0.8, 0, 0, 0, 0, tiny / float32(1e-12), -tiny / float32(1e-12)} // the norm is at least 1e-12
	if !slices.Equal(v, want) {
		t.Fatalf("Normalize = %v, want %v", v, want)
	}
}
