package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

// seeded writes a torch-seeded table (as embpack init does) and returns its
// path.
func seeded(t testing.TB, dir string, name string, rows int64, dim int, positions int64) string {
	t.Helper()
	path := filepath.Join(dir, name+".emb")
	spec := pack.SeedSpec{Rows: rows, Dim: dim, Seed: 123, Positions: positions}
	if err := pack.Seed(context.Background(), path, spec, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// versioned writes (by rename) a table whose row r holds gen*100000 + r in
// every value, so that a response says which file version each row came
// from.
func versioned(t testing.TB, path string, gen, rows, dim int) {
	t.Helper()
	fw, err := format.Create(path, format.Layout{Rows: int64(rows), Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, rows*dim)
	for r := range rows {
		for j := range dim {
			vals[r*dim+j] = float32(gen*100000 + r)
		}
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
}

// testServer runs a Server on a loopback port with the given tables.
type testServer struct {
	*Server
	hs  *httptest.Server
	url string
}

func newTestServer(t testing.TB, cfg Config, tables map[string]string) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Follow.Interval == 0 {
		cfg.Follow.Interval = -1
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, path := range tables {
		if err := s.AddTable(name, path); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return &testServer{Server: s, hs: hs, url: hs.URL}
}

// post sends a JSON (or other) body and returns the status and body.
func (ts *testServer) post(t testing.TB, path, ctype string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, ts.hs.Client(), req)
}

func (ts *testServer) get(t testing.TB, path string, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, ts.hs.Client(), req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (int, []byte, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// openAIError is OpenAI's error body.
type openAIError struct {
	Error struct {
		Message *string `json:"message"`
		Type    *string `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// checkOpenAIError checks that body is exactly OpenAI's error shape (the
// four keys, no others) and returns it.
func checkOpenAIError(t testing.TB, body []byte) openAIError {
	t.Helper()
	var raw map[string]map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 1 || raw["error"] == nil {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := raw["error"][k]; !ok {
			t.Fatalf("OpenAI error without %q: %s", k, body)
		}
	}
	if len(raw["error"]) != 4 {
		t.Fatalf("OpenAI error with extra keys: %s", body)
	}
	var e openAIError
	json.Unmarshal(body, &e)
	if e.Error.Message == nil || *e.Error.Message == "" || e.Error.Type == nil {
		t.Fatalf("OpenAI error without message or type: %s", body)
	}
	return e
}

// checkTEIError checks TEI's error shape {"error", "error_type"}.
func checkTEIError(t testing.TB, body []byte) (msg, typ string) {
	t.Helper()
	var raw map[string]string
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) != 2 || raw["error"] == "" || raw["error_type"] == "" {
		t.Fatalf("not a TEI error body: %s", body)
	}
	return raw["error"], raw["error_type"]
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// bagMean is what embquery bag --mode mean computes for each input.
func bagMean(t testing.TB, path string, inputs [][]int64) [][]float32 {
	t.Helper()
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	var out [][]float32
	for _, ids := range inputs {
		dst := make([]float32, tab.Header().Dim)
		if err := tab.Bag(dst, ids, []int64{0}, &store.BagOptions{Mode: store.BagMean}); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return out
}

// lookupRows is what embquery lookup prints for ids.
func storeLookup(t testing.TB, path string, ids []int64) []float32 {
	t.Helper()
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	dst := make([]float32, len(ids)*tab.Header().Dim)
	if err := tab.Lookup(dst, ids); err != nil {
		t.Fatal(err)
	}
	return dst
}

func decodeB64Row(t testing.TB, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("bad base64 row %q: %v", s, err)
	}
	return le32(b)
}

func le32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func le64(ids []int64) []byte {
	var b []byte
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint64(b, uint64(id))
	}
	return b
}

// sameBits reports whether a and b hold the same float32 bits.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// requireOracle returns the path of an external program the test needs; it
// skips the test when the program is missing, unless
// EMBSTORE_REQUIRE_ORACLES=1, under which it fails.
func requireOracle(t testing.TB, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missingOracle(t, name+" is not installed ("+why+")")
	}
	return p
}

func missingOracle(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("EMBSTORE_REQUIRE_ORACLES") == "1" {
		t.Fatalf("%s, and EMBSTORE_REQUIRE_ORACLES=1", msg)
	}
	t.Skipf("skipped: %s; set EMBSTORE_REQUIRE_ORACLES=1 to make this a failure", msg)
}
