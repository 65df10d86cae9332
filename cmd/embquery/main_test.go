package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// seedTable writes a seeded table and returns its path and the values of
// its token and positional rows, read back through the format package.
func seedTable(t testing.TB, rows int64, dim int, positions int64) (string, []float32, []float32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.emb")
	spec := pack.SeedSpec{Rows: rows, Dim: dim, Seed: 123, Positions: positions}
	if err := pack.Seed(context.Background(), path, spec, nil); err != nil {
		t.Fatal(err)
	}
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok := make([]float32, rows*int64(dim))
	if err := f.ReadRows(f.Tokens(), 0, rows, tok); err != nil {
		t.Fatal(err)
	}
	var pos []float32
	if s, ok := f.Section(format.SectionPositions); ok {
		pos = make([]float32, positions*int64(dim))
		if err := f.ReadRows(s, 0, positions, pos); err != nil {
			t.Fatal(err)
		}
	}
	return path, tok, pos
}

// expected returns the rows lookup must print: token rows of ids, plus the
// positional row of each id's position when posOf is not nil.
func expected(tok, pos []float32, dim int, ids []int64, posOf func(i int) int64) []float32 {
	var out []float32
	for i, id := range ids {
		for j := range dim {
			v := tok[id*int64(dim)+int64(j)]
			if posOf != nil {
				v += pos[posOf(i)*int64(dim)+int64(j)]
			}
			out = append(out, v)
		}
	}
	return out
}

func parseRaw(t *testing.T, b []byte) []float32 {
	t.Helper()
	if len(b)%4 != 0 {
		t.Fatalf("raw output of %d bytes", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func parseText(t *testing.T, s string, dim int) []float32 {
	t.Helper()
	var v []float32
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		fields := strings.Fields(line)
		if len(fields) != dim {
			t.Fatalf("text row of %d values, want %d", len(fields), dim)
		}
		for _, f := range fields {
			x, err := strconv.ParseFloat(f, 32)
			if err != nil {
				t.Fatal(err)
			}
			v = append(v, float32(x))
		}
	}
	return v
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestLookupFormats(t *testing.T) {
	path, tok, _ := seedTable(t, 1000, 16, 0)
	ids := []int64{2, 3, 5, 1, 999, 0, 3}
	want := expected(tok, nil, 16, ids, nil)
	code, out, stderr := runCmd(t, "", "lookup", path, "--ids", "2,3,5,1,999, 0 ,3", "--format", "raw")
	if code != 0 {
		t.Fatal(stderr)
	}
	sameBits(t, "raw", parseRaw(t, []byte(out)), want)

	_, out, _ = runCmd(t, "", "lookup", path, "--ids", "2,3,5,1,999,0,3")
	sameBits(t, "text", parseText(t, out, 16), want)

	_, out, _ = runCmd(t, "", "lookup", path, "--ids", "2,3,5,1,999,0,3", "--format", "json")
	var rows [][]float64
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, r := range rows {
		for _, v := range r {
			flat = append(flat, float32(v))
		}
	}
	sameBits(t, "json", flat, want)

	_, out, _ = runCmd(t, "", "lookup", path, "--ids", "2,3,5,1,999,0,3", "--format", "npy")
	b := []byte(out)
	if !bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")) {
		t.Fatalf("npy magic: %q", b[:8])
	}
	hlen := int(binary.LittleEndian.Uint16(b[8:]))
	header := string(b[10 : 10+hlen])
	if (10+hlen)%64 != 0 || !strings.Contains(header, "'descr': '<f4'") || !strings.Contains(header, "'shape': (7, 16)") {
		t.Fatalf("npy header %q", header)
	}
	sameBits(t, "npy", parseRaw(t, b[10+hlen:]), want)
}

func TestLookupStdinStream(t *testing.T) {
	path, tok, _ := seedTable(t, 10000, 4, 0)
	var in strings.Builder
	var ids []int64
	for i := range 10000 { // several chunks
		id := int64((i * 7919) % 10000)
		ids = append(ids, id)
		in.WriteString(strconv.FormatInt(id, 10))
		in.WriteString([]string{" ", "\n", "\t", "  \n"}[i%4])
	}
	for _, f := range []string{"raw", "npy"} {
		code, out, stderr := runCmd(t, in.String(), "lookup", path, "--format", f)
		if code != 0 {
			t.Fatal(stderr)
		}
		b := []byte(out)
		if f == "npy" {
			b = b[10+int(binary.LittleEndian.Uint16(b[8:])):]
		}
		sameBits(t, f+" from stdin", parseRaw(t, b), expected(tok, nil, 4, ids, nil))
	}
}

func TestLookupPositions(t *testing.T) {
	path, tok, pos := seedTable(t, 50, 8, 6)
	ids := []int64{2, 3, 5, 1}
	code, out, stderr := runCmd(t, "", "lookup", path, "--ids", "2,3,5,1", "--positions", "--format", "raw")
	if code != 0 {
		t.Fatal(stderr)
	}
	sameBits(t, "one sequence", parseRaw(t, []byte(out)), expected(tok, pos, 8, ids, func(i int) int64 { return int64(i) }))

	_, out, _ = runCmd(t, "", "lookup", path, "--ids", "2,3,5,1", "--positions", "--seq-len", "2", "--start", "3", "--format", "raw")
	sameBits(t, "seq-len 2 start 3", parseRaw(t, []byte(out)), expected(tok, pos, 8, ids, func(i int) int64 { return 3 + int64(i%2) }))

	// Streamed from stdin as one sequence, the position keeps counting.
	_, out, _ = runCmd(t, "2 3\n5 1 7 7", "lookup", path, "--positions", "--start", "0", "--format", "raw")
	ids6 := []int64{2, 3, 5, 1, 7, 7}
	sameBits(t, "stdin sequence", parseRaw(t, []byte(out)), expected(tok, pos, 8, ids6, func(i int) int64 { return int64(i) }))

	_, out, _ = runCmd(t, "", "lookup", path, "--table", "positions", "--ids", "5,0", "--format", "raw")
	sameBits(t, "positional rows", parseRaw(t, []byte(out)), append(append([]float32{}, pos[40:48]...), pos[0:8]...))
}

func TestLookupErrors(t *testing.T) {
	path, _, _ := seedTable(t, 50, 8, 6)
	noPos, _, _ := seedTable(t, 50, 8, 0)
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"", []string{"lookup", path, "--ids", "1,50"}, cli.ExitFail, "ids[1] = 50 is out of range [0, 50)"},
		{"", []string{"lookup", path, "--ids", "-1"}, cli.ExitFail, "ids[0] = -1 is out of range"},
		{"1 2 3 99", []string{"lookup", path, "--format", "npy"}, cli.ExitFail, "ids[3] = 99"},
		{"1 2 x", []string{"lookup", path}, cli.ExitFail, `id 3 of standard input: "x" is not an integer id`},
		{"", []string{"lookup", path, "--ids", "1,2,x"}, cli.ExitUsage, `"x" is not an integer id`},
		{"", []string{"lookup", path, "--ids", "1,99999999999999999999"}, cli.ExitUsage, "does not fit in an int64"},
		{"", []string{"lookup", path, "--ids", "1,2,3,4,5,6,7", "--positions"}, cli.ExitFail, "position 6 is out of range of the 6-row positional table"},
		{"", []string{"lookup", path, "--ids", "1,2,3", "--positions", "--seq-len", "2"}, cli.ExitFail, "not a whole number of sequences of 2"},
		{"", []string{"lookup", path, "--ids", "1,2", "--positions", "--start", "5"}, cli.ExitFail, "position 6"},
		{"", []string{"lookup", noPos, "--ids", "1", "--positions"}, cli.ExitFail, "no positional table"},
		{"", []string{"lookup", noPos, "--ids", "1", "--table", "positions"}, cli.ExitFail, "no positional table"},
		{"", []string{"lookup", path, "--ids", "6", "--table", "positions"}, cli.ExitFail, "rows[0] = 6 is out of range [0, 6)"},
		{"", []string{"lookup", path, "--ids", "1", "--format", "csv"}, cli.ExitUsage, "--format"},
		{"", []string{"lookup", path, "--ids", "1", "--start", "2"}, cli.ExitUsage, "only with --positions"},
		{"", []string{"lookup", path, "--ids", "1", "--positions", "--table", "positions"}, cli.ExitUsage, "does not apply"},
		{"", []string{"lookup", "--ids", "1"}, cli.ExitUsage, "want exactly one table FILE"},
		{"", []string{"lookup", filepath.Join(t.TempDir(), "missing.emb"), "--ids", "1"}, cli.ExitFail, "no such file"},
		{"", []string{"bogus"}, cli.ExitUsage, `unknown command "bogus"`},
	} {
		code, out, stderr := runCmd(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("embquery %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.msg)
		}
		if c.code == cli.ExitFail && len(c.args) > 2 && strings.Contains(strings.Join(c.args, " "), "--ids") && out != "" {
			t.Errorf("embquery %v printed output before failing: %q", c.args, out)
		}
		if strings.Count(stderr, "\n") > 2 || strings.Contains(stderr, "goroutine") {
			t.Errorf("embquery %v: stderr is not one clear line: %q", c.args, stderr)
		}
	}
}

func TestTruncatedTable(t *testing.T) {
	path, _, _ := seedTable(t, 50, 8, 0)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-10], 0o644)
	code, _, stderr := runCmd(t, "", "lookup", path, "--ids", "1")
	if code != cli.ExitFail || !strings.Contains(stderr, "truncated") {
		t.Fatalf("truncated table: exit %d, %q", code, stderr)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
