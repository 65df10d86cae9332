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

// TestShardTokenizerTable shards a table with GPT-2's tokenizer, its
// vocabulary and norms: each shard passes inspect and verify (its tokenizer's
// ids are checked against the whole table's rows), the set passes --verify
// and joins back to the original bytes, and a damaged vocabulary fails
// --verify.
func TestShardTokenizerTable(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(tok, gpt2Tokenizer(t), 0o644); err != nil {
		t.Fatal(err)
	}
	seeded := filepath.Join(dir, "seeded.emb")
	if code, _, stderr := runCmd(t, "init", "--rows", "50257", "--dim", "4", "--seed", "5", "--tokenizer", tok, "-q", "-o", seeded); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	src := filepath.Join(dir, "gpt2.emb")
	if code, _, stderr := runCmd(t, "convert", seeded, "--norms", "-q", "-o", src); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	out := filepath.Join(dir, "shards")
	if code, _, stderr := runCmd(t, "shard", src, "--shards", "4", "--name", "gpt2", "-q", "-o", out); code != 0 {
		t.Fatalf("shard: %s", stderr)
	}
	for i := range 4 {
		p := filepath.Join(out, "gpt2-v1-0000"+string(rune('0'+i))+"-of-00004.emb")
		info := inspectOf(t, p)
		if info.Tokenizer == nil || info.Tokenizer.Error != "" || info.Vocabulary == nil || !info.Norms {
			t.Fatalf("shard %d: inspect vocabulary %+v, norms %v, tokenizer %+v", i, info.Vocabulary, info.Norms, info.Tokenizer)
		}
		code, stdout, stderr := runCmd(t, "verify", p)
		if code != 0 || !strings.Contains(stdout, "ok   tokenizer loads") {
			t.Fatalf("verify shard %d: exit %d\n%s%s", i, code, stdout, stderr)
		}
	}
	if code, stdout, stderr := runCmd(t, "shard", "--verify", out); code != 0 {
		t.Fatalf("shard --verify: exit %d\n%s%s", code, stdout, stderr)
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

	// A string byte of shard 2's vocabulary (the section's last byte).
	p := filepath.Join(out, "gpt2-v1-00002-of-00004.emb")
	data, _ := os.ReadFile(p)
	info := inspectOf(t, p)
	var end int64
	for _, s := range info.Sections {
		if s.Kind == "vocabulary" {
			end = s.Offset + s.Length
		}
	}
	data[end-1] ^= 0x01
	os.WriteFile(p, data, 0o644)
	code, stdout, _ := runCmd(t, "shard", "--verify", out)
	if code != 1 || !strings.Contains(stdout, "FAIL gpt2-v1-00002-of-00004.emb") || !strings.Contains(stdout, "vocabulary") {
		t.Errorf("verify of a damaged vocabulary: exit %d\n%s", code, stdout)
	}
}
