package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

func TestBagCommand(t *testing.T) {
	path, _, _ := seedTable(t, 100, 6, 0)
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	ids := []int64{1, 2, 3, 4, 99, 2}
	for _, c := range []struct {
		args    []string
		offsets []int64
		opts    store.BagOptions
	}{
		{[]string{"--offsets", "0,2", "--mode", "sum"}, []int64{0, 2}, store.BagOptions{Mode: store.BagSum}},
		{[]string{"--offsets", "0,2,2", "--mode", "mean"}, []int64{0, 2, 2}, store.BagOptions{Mode: store.BagMean}},
		{[]string{"--bag-size", "3", "--mode", "max"}, []int64{0, 3}, store.BagOptions{Mode: store.BagMax}},
		{[]string{"--mode", "mean", "--padding-idx", "-1"}, []int64{0}, store.BagOptions{Mode: store.BagMean, PaddingIdx: new(int64(-1))}},
		{[]string{"--offsets", "0,2,4", "--include-last-offset", "--mode", "sum"}, []int64{0, 2, 4}, store.BagOptions{IncludeLastOffset: true}},
		{[]string{"--offsets", "0,3", "--mode", "sum", "--weights", "1,0.5,2,-1,3,0.25"}, []int64{0, 3},
			store.BagOptions{PerSampleWeights: []float32{1, 0.5, 2, -1, 3, 0.25}}},
	} {
		args := append([]string{"bag", path, "--ids", "1,2,3,4,99,2", "--format", "raw"}, c.args...)
		code, out, stderr := runCmd(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
		bags := len(c.offsets)
		if c.opts.IncludeLastOffset {
			bags--
		}
		want := make([]float32, bags*6)
		if err := tab.Bag(want, ids, c.offsets, &c.opts); err != nil {
			t.Fatal(err)
		}
		sameBits(t, strings.Join(c.args, " "), parseRaw(t, []byte(out)), want)
	}
	// stdin ids, one bag
	code, out, _ := runCmd(t, "1 2\n3", "bag", path, "--format", "json")
	var rows [][]float64
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
		t.Fatalf("stdin bag: exit %d %q", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--offsets", "1,2"}, cli.ExitFail, "offsets[0] = 1"},
		{[]string{"--offsets", "0,9"}, cli.ExitFail, "offsets"},
		{[]string{"--mode", "median"}, cli.ExitUsage, "--mode"},
		{[]string{"--mode", "mean", "--weights", "1,1,1,1,1,1"}, cli.ExitUsage, "--mode sum"},
		{[]string{"--weights", "1,1"}, cli.ExitUsage, "2 weights for 6 ids"},
		{[]string{"--bag-size", "4"}, cli.ExitFail, "not a whole number of bags"},
		{[]string{"--bag-size", "2", "--offsets", "0"}, cli.ExitUsage, "not both"},
		{[]string{"--padding-idx", "100"}, cli.ExitFail, "padding index 100 out of range"},
	} {
		args := append([]string{"bag", path, "--ids", "1,2,3,4,99,2"}, c.args...)
		code, _, stderr := runCmd(t, "", args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d %q; want %d %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

func TestBenchCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.emb")
	if err := pack.Seed(context.Background(), path, pack.SeedSpec{Rows: 500, Dim: 16, Seed: 1, Positions: 64}, nil); err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "ids.txt")
	writeFile(t, idFile, "1 2 3\n499 0\n")
	for _, args := range [][]string{
		{"--batch", "256", "--seconds", "0.05"},
		{"--batch", "256", "--seconds", "0.05", "--threads", "2", "--positions"},
		{"--batch", "256", "--seconds", "0.05", "--mode", "bag", "--bag-size", "16", "--bag-mode", "max"},
		{"--batch", "100", "--seconds", "0.05", "--ids", idFile, "--map-mode", "populate"},
	} {
		code, out, stderr := runCmd(t, "", append([]string{"bench", path}, args...)...)
		if code != 0 {
			t.Fatalf("bench %v: %s", args, stderr)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("bench %v printed %q", args, out)
		}
		if r.RowsPerS <= 0 || r.GBPerS <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms || r.Batches < 5 {
			t.Fatalf("bench %v: %+v", args, r)
		}
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--mode", "scatter"}, "--mode"},
		{[]string{"--mode", "bag", "--bag-size", "3"}, "must divide"},
		{[]string{"--threads", "0"}, "--threads"},
		{[]string{"--map-mode", "weird"}, "--map-mode"},
	} {
		code, _, stderr := runCmd(t, "", append([]string{"bench", path}, c.args...)...)
		if code != cli.ExitUsage || !strings.Contains(stderr, c.msg) {
			t.Errorf("bench %v: exit %d %q", c.args, code, stderr)
		}
	}
	writeFile(t, idFile, "1 2 500")
	if code, _, stderr := runCmd(t, "", "bench", path, "--ids", idFile, "--seconds", "0.05"); code != cli.ExitFail || !strings.Contains(stderr, "500") {
		t.Errorf("bench with a bad id file: exit %d %q", code, stderr)
	}
}
