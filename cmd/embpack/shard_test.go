package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShardCommands(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "tab.emb")
	if code, _, stderr := runCmd(t, "init", "--rows", "500", "--dim", "16", "--seed", "3", "--positions", "5", "--dtype", "bf16", "-q", "-o", src); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	out := filepath.Join(dir, "shards")
	code, stdout, stderr := runCmd(t, "shard", src, "--shards", "3", "--version", "2", "--name", "gpt", "-o", out)
	if code != 0 {
		t.Fatalf("shard: %s", stderr)
	}
	for i, r := range []string{"[0, 167)", "[167, 334)", "[334, 500)"} {
		if !strings.Contains(stdout, "gpt-v2-0000"+string(rune('0'+i))+"-of-00003.emb rows "+r) {
			t.Errorf("shard output lacks shard %d rows %s:\n%s", i, r, stdout)
		}
	}
	code, stdout, stderr = runCmd(t, "shard", "--verify", out)
	if code != 0 || !strings.Contains(stdout, "all 3 shards match the manifest") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	back := filepath.Join(dir, "back.emb")
	if code, _, stderr := runCmd(t, "unshard", out, "-q", "-o", back); code != 0 {
		t.Fatalf("unshard: %s", stderr)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(back)
	if !bytes.Equal(a, b) {
		t.Fatal("unshard did not give the original bytes")
	}

	// A damaged shard fails verify and unshard with one line and exit 1.
	p := filepath.Join(out, "gpt-v2-00002-of-00003.emb")
	data, _ := os.ReadFile(p)
	data[4096+10] ^= 0x10 // a token row
	os.WriteFile(p, data, 0o644)
	code, stdout, _ = runCmd(t, "shard", "--verify", out)
	if code != 1 || !strings.Contains(stdout, "FAIL gpt-v2-00002-of-00003.emb") {
		t.Errorf("verify of a damaged set: exit %d\n%s", code, stdout)
	}
	code, _, stderr = runCmd(t, "unshard", out, "-o", filepath.Join(dir, "bad.emb"))
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "would differ from the original") {
		t.Errorf("unshard of a damaged set: exit %d, %q", code, stderr)
	}

	for _, args := range [][]string{
		{"shard", src, "-o", out},
		{"shard", src, "--shards", "0", "-o", out},
		{"shard", src, "--shards", "2", "--version", "0", "-o", out},
		{"shard", "--verify", out, "--shards", "2"},
		{"shard", src, out, "--shards", "2", "-o", out},
		{"unshard", out},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 || !strings.Contains(stderr, "--help") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}
