package server

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenAINodeClient runs the official OpenAI Node client (npm "openai",
// a client no one here wrote) against a real server on loopback: float and
// base64 embeddings equal embquery bag --mode mean bit for bit, errors and
// auth failures come back as the client's APIError with OpenAI's fields.
// It needs node and EMBSTORE_NODE_MODULES, the node_modules directory of
// `npm install openai`; without them it skips, unless
// EMBSTORE_REQUIRE_ORACLES=1.
func TestOpenAINodeClient(t *testing.T) {
	node := requireOracle(t, "node", "the OpenAI Node client runs on it")
	modules := os.Getenv("EMBSTORE_NODE_MODULES")
	if modules == "" {
		missingOracle(t, "EMBSTORE_NODE_MODULES is not set (the node_modules directory holding npm's openai package)")
	}
	if _, err := os.Stat(filepath.Join(modules, "openai", "package.json")); err != nil {
		missingOracle(t, "npm package openai is not installed in EMBSTORE_NODE_MODULES="+modules)
	}
	dir := t.TempDir()
	path := seeded(t, dir, "t", 2000, 48, 0)
	keyFile := filepath.Join(dir, "keys")
	writeFile(t, keyFile, []byte("sk-test-key\n"))
	ts := newTestServer(t, Config{APIKeyFile: keyFile}, map[string]string{"t": path})

	inputs := [][]int64{{1, 2, 3, 1999}, {7}, {0, 0, 5}}
	in, _ := json.Marshal(inputs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "openai_client.mjs"))
	cmd.Env = append(os.Environ(), "EMBSTORE_NODE_MODULES="+modules, "BASE_URL="+ts.url+"/v1", "API_KEY=sk-test-key", "INPUT="+string(in))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var got struct {
		Version string
		Float   [][]float32
		Base64  [][]float32
		Indexes []int
		Model   string
		Usage   struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		}
		Models []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var errs map[string]struct {
		Status                     int
		Message, Param, Code, Type string
	}
	json.Unmarshal(out, &errs)
	t.Logf("openai %s", got.Version)
	want := bagMean(t, path, inputs)
	for i := range inputs {
		if len(got.Float) != 3 || len(got.Base64) != 3 || !sameBits(got.Float[i], want[i]) || !sameBits(got.Base64[i], want[i]) {
			t.Fatalf("input %d: float %v, base64 %v, want %v", i, got.Float, got.Base64, want[i])
		}
	}
	if got.Model != "t" || got.Usage.PromptTokens != 8 || got.Usage.TotalTokens != 8 || len(got.Indexes) != 3 || got.Indexes[2] != 2 {
		t.Fatalf("response fields: %s", out)
	}
	if e := errs["unknown_model"]; e.Status != 404 || e.Code != "model_not_found" || e.Param != "model" {
		t.Errorf("unknown model: %+v", e)
	}
	if e := errs["bad_id"]; e.Status != 400 || e.Code != "id_out_of_range" || e.Param != "input[1][0]" || e.Type != "invalid_request_error" {
		t.Errorf("bad id: %+v", e)
	}
	if e := errs["text"]; e.Status != 400 || e.Code != "no_tokenizer" {
		t.Errorf("text input: %+v", e)
	}
	if e := errs["wrong_key"]; e.Status != 401 || e.Code != "invalid_api_key" {
		t.Errorf("wrong key: %+v", e)
	}
	if len(got.Models) != 1 || got.Models[0] != "t" {
		t.Errorf("models: %v", got.Models)
	}
}

// TestWrkScripts runs each wrk script of bench/ (what bench/serve.sh
// measures with) for a moment against a real server: every request must
// succeed, so that the benchmarks measure answers, not errors. It needs
// wrk; without it it skips, unless EMBSTORE_REQUIRE_ORACLES=1.
func TestWrkScripts(t *testing.T) {
	wrk := requireOracle(t, "wrk", "the load generator of bench/serve.sh")
	dir := t.TempDir()
	ts := newTestServer(t, Config{}, map[string]string{"t": seeded(t, dir, "t", 1000, 16, 0)})
	luaDir, _ := filepath.Abs(filepath.Join("..", "..", "bench", "wrk"))
	for _, c := range []struct {
		script string
		env    []string
	}{
		{"lookup_binary.lua", []string{"BATCH=1"}},
		{"lookup_binary.lua", []string{"BATCH=300"}},
		{"lookup_json.lua", []string{"BATCH=16", "ENCODING=float"}},
		{"lookup_json.lua", []string{"BATCH=16", "ENCODING=base64"}},
		{"embeddings.lua", []string{"INPUTS=64", "IDS=32"}},
	} {
		cmd := exec.Command(wrk, "-t1", "-c2", "-d1s", "-s", filepath.Join(luaDir, c.script), ts.url)
		cmd.Env = append(os.Environ(), append(c.env, "WRK_LUA_DIR="+luaDir, "TABLE=t", "ROWS=1000")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wrk %s %v: %v\n%s", c.script, c.env, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var res struct {
			Requests     int     `json:"requests"`
			ReqPerS      float64 `json:"req_per_s"`
			Non2xx       int     `json:"non2xx"`
			SocketErrors int     `json:"socket_errors"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatalf("wrk %s: last line is not the JSON summary:\n%s", c.script, out)
		}
		if res.Requests == 0 || res.Non2xx != 0 || res.SocketErrors != 0 {
			t.Fatalf("wrk %s %v: %+v\n%s", c.script, c.env, res, out)
		}
	}
}
