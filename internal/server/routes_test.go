package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/embstore/embstore/store"
	"github.com/klauspost/compress/zstd"
)

type embeddingsResponse struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func TestEmbeddingsEqualBagMean(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 1000, 24, 0)
	ts := newTestServer(t, Config{}, map[string]string{"t": path})
	cases := []struct {
		input  string
		inputs [][]int64
	}{
		{`[5, 7, 999, 0]`, [][]int64{{5, 7, 999, 0}}},
		{`[[1, 2, 3], [4], [4, 4, 4, 4, 4]]`, [][]int64{{1, 2, 3}, {4}, {4, 4, 4, 4, 4}}},
		{` [ [ 10 ] ] `, [][]int64{{10}}},
	}
	for _, c := range cases {
		want := bagMean(t, path, c.inputs)
		tokens := 0
		for _, in := range c.inputs {
			tokens += len(in)
		}
		for _, enc := range []string{"", `, "encoding_format": "float"`, `, "encoding_format": "base64"`} {
			body := fmt.Sprintf(`{"model": "t", "input": %s%s, "user": "u", "dimensions": 24}`, c.input, enc)
			code, got, hdr := ts.post(t, "/v1/embeddings", "application/json", []byte(body))
			if code != 200 || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: %d %s", body, code, got)
			}
			var r embeddingsResponse
			if err := json.Unmarshal(got, &r); err != nil {
				t.Fatal(err)
			}
			if r.Object != "list" || r.Model != "t" || len(r.Data) != len(c.inputs) || r.Usage.PromptTokens != tokens || r.Usage.TotalTokens != tokens {
				t.Fatalf("%s: response %s", body, got)
			}
			for i, d := range r.Data {
				var row []float32
				if strings.Contains(enc, "base64") {
					var s string
					json.Unmarshal(d.Embedding, &s)
					row = decodeB64Row(t, s)
				} else if err := json.Unmarshal(d.Embedding, &row); err != nil {
					t.Fatal(err)
				}
				if d.Object != "embedding" || d.Index != i || !sameBits(row, want[i]) {
					t.Fatalf("%s: input %d: got %v, want bag mean %v", body, i, row, want[i])
				}
			}
		}
	}
}

func TestRequestErrors(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 100, 8, 4)
	ts := newTestServer(t, Config{MaxInputs: 3, MaxTokens: 10}, map[string]string{"t": path})
	cases := []struct {
		route, body string
		status      int
		param, code string
		msg         string // in the message
	}{
		{"/v1/embeddings", `{"model": "t", "input": "hello"}`, 400, "input", "no_tokenizer", "table t has no tokenizer"},
		{"/v1/embeddings", `{"model": "t", "input": ["a", "b"]}`, 400, "input", "no_tokenizer", "table t has no tokenizer"},
		{"/v1/embeddings", `{"model": "t", "input": [1, 100]}`, 400, "input[1]", "id_out_of_range", "100 is out of range [0, 100)"},
		{"/v1/embeddings", `{"model": "t", "input": [[1], [2, -3]]}`, 400, "input[1][1]", "id_out_of_range", "-3"},
		{"/v1/embeddings", `{"model": "t", "input": [1, 99999999999999999999]}`, 400, "input[1]", "invalid_value", "99999999999999999999 does not fit"},
		{"/v1/embeddings", `{"model": "t", "input": [1, 2.5]}`, 400, "input[1]", "invalid_value", "2.5 is not an integer"},
		{"/v1/embeddings", `{"model": "t", "input": [1, "a"]}`, 400, "input[1]", "invalid_value", `"a" is not a token id`},
		{"/v1/embeddings", `{"model": "t", "input": [[1], 2]}`, 400, "input[1]", "invalid_value", "want '['"},
		{"/v1/embeddings", `{"model": "t", "input": []}`, 400, "input", "invalid_value", "empty array"},
		{"/v1/embeddings", `{"model": "t", "input": [[1], []]}`, 400, "input[1]", "invalid_value", "empty array"},
		{"/v1/embeddings", `{"model": "t", "input": ""}`, 400, "input", "invalid_value", "empty string"},
		{"/v1/embeddings", `{"model": "t", "input": 5}`, 400, "input", "invalid_value", "want a string"},
		{"/v1/embeddings", `{"model": "t", "input": [[1], [2], [3], [4]]}`, 400, "input", "too_many_inputs", "more than 3 inputs"},
		{"/v1/embeddings", `{"model": "t", "input": [1,2,3,4,5,6,7,8,9,10,11]}`, 400, "input", "too_many_tokens", "more than 10 token ids"},
		{"/v1/embeddings", `{"model": "nope", "input": [1]}`, 404, "model", "model_not_found", `"nope": no such table`},
		{"/v1/embeddings", `{"input": [1]}`, 400, "model", "invalid_value", "model: missing"},
		{"/v1/embeddings", `{"model": "t"}`, 400, "input", "invalid_value", "input: missing"},
		{"/v1/embeddings", `{"model": "t", "input": [1], "dimensions": 4}`, 400, "dimensions", "invalid_value", "table t has 8 dimensions"},
		{"/v1/embeddings", `{"model": "t", "input": [1], "dimensions": -1}`, 400, "dimensions", "invalid_value", "-1"},
		{"/v1/embeddings", `{"model": "t", "input": [1], "dimensions": 1.5}`, 400, "dimensions", "invalid_value", "want an integer"},
		{"/v1/embeddings", `{"model": "t", "input": [1], "encoding_format": "hex"}`, 400, "encoding_format", "invalid_value", `"hex"`},
		{"/v1/embeddings", `{"model": "t", "input": [1], "extra": 1}`, 400, "extra", "invalid_value", `unknown field "extra"`},
		{"/v1/embeddings", `{"model": 5, "input": [1]}`, 400, "model", "invalid_value", "want a string, got number"},
		{"/v1/embeddings", `{"model": "t", "input": [1]`, 400, "", "invalid_value", "not valid JSON"},
		{"/v1/embeddings", `{"model": "t", "input": [1]} {}`, 400, "", "invalid_value", "after the JSON object"},
		{"/v1/embeddings", `[1]`, 400, "", "invalid_value", "want a JSON object"},
		{"/v1/embeddings", ``, 400, "", "invalid_value", "empty request body"},
		{"/v1/lookup", `{"table": "t", "ids": [1, 100]}`, 400, "ids[1]", "id_out_of_range", "100"},
		{"/v1/lookup", `{"table": "t", "ids": [[1], [100]]}`, 400, "ids[1][0]", "id_out_of_range", "100"},
		{"/v1/lookup", `{"table": "t", "ids": [1, 2, 3], "positions": true, "start": 2}`, 400, "start", "position_out_of_range", "position 4"},
		{"/v1/lookup", `{"table": "t", "ids": [1], "positions": true, "start": -1}`, 400, "start", "invalid_value", "-1"},
		{"/v1/lookup", `{"table": "t", "ids": [1, 2, 3], "positions": true, "seq_len": 2}`, 400, "seq_len", "invalid_value", "not a whole number"},
		{"/v1/lookup", `{"table": "t", "ids": [1], "start": 1}`, 400, "positions", "invalid_value", "only with positions"},
		{"/v1/lookup", `{"table": "t", "ids": [4], "section": "positions"}`, 400, "ids[0]", "id_out_of_range", "positional table"},
		{"/v1/lookup", `{"table": "t", "ids": [1], "section": "norms"}`, 400, "section", "invalid_value", `"norms"`},
		{"/v1/lookup", `{"ids": [1]}`, 400, "table", "invalid_value", "table: missing"},
		{"/v1/lookup", `{"table": "t", "ids": "hello"}`, 400, "ids", "invalid_value", "not a string"},
		{"/v1/lookup", `{"table": "t", "ids": [1,2,3,4,5,6,7,8,9,10,11]}`, 413, "ids", "too_many_tokens", "more than 10"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "offsets": [1]}`, 400, "offsets[0]", "invalid_value", "must start at 0"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "offsets": [0, 2, 1]}`, 400, "offsets[2]", "invalid_value", "must not decrease"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "offsets": [0, 3]}`, 400, "offsets[1]", "invalid_value", "3"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "mode": "median"}`, 400, "mode", "invalid_value", `"median"`},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "mode": "mean", "per_sample_weights": [1, 2]}`, 400, "per_sample_weights", "invalid_value", "mode \"sum\""},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "mode": "sum", "per_sample_weights": [1]}`, 400, "per_sample_weights", "invalid_value", "1 weights for 2 ids"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "mode": "sum", "per_sample_weights": [1, 1e39]}`, 400, "per_sample_weights[1]", "invalid_value", "1e39 is out of float32 range"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "padding_idx": 100}`, 400, "padding_idx", "invalid_value", "100"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2], "bag_size": 0}`, 400, "bag_size", "invalid_value", "0"},
		{"/v1/bag", `{"table": "t", "ids": [1, 2, 3], "bag_size": 2}`, 400, "bag_size", "invalid_value", "whole number"},
		{"/v1/bag", `{"table": "t", "ids": [[1], [200]]}`, 400, "ids[1][0]", "id_out_of_range", "200"},
		{"/v1/bag", `{"table": "t", "ids": [1], "include_last_offset": true}`, 400, "include_last_offset", "invalid_value", "applies to offsets"},
	}
	for _, c := range cases {
		code, body, _ := ts.post(t, c.route, "application/json", []byte(c.body))
		if code != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.route, c.body, code, c.status, body)
			continue
		}
		e := checkOpenAIError(t, body)
		if str(e.Error.Param) != c.param && !(c.param == "" && e.Error.Param == nil) {
			t.Errorf("%s %s: param %s, want %s", c.route, c.body, str(e.Error.Param), c.param)
		}
		if str(e.Error.Code) != c.code {
			t.Errorf("%s %s: code %s, want %s", c.route, c.body, str(e.Error.Code), c.code)
		}
		if !strings.Contains(*e.Error.Message, c.msg) {
			t.Errorf("%s %s: message %q does not say %q", c.route, c.body, *e.Error.Message, c.msg)
		}
	}
	// Method, route and the TEI routes' shapes.
	code, body, hdr := ts.get(t, "/v1/embeddings")
	if e := checkOpenAIError(t, body); code != 405 || hdr.Get("Allow") != "POST" || str(e.Error.Code) != "method_not_allowed" {
		t.Errorf("GET /v1/embeddings: %d %s", code, body)
	}
	code, body, _ = ts.get(t, "/v1/nothing")
	if checkOpenAIError(t, body); code != 404 {
		t.Errorf("GET /v1/nothing: %d", code)
	}
	code, body, _ = ts.post(t, "/embed", "application/json", []byte(`{"inputs": "hello"}`))
	if msg, typ := checkTEIError(t, body); code != 422 || typ != "Validation" || !strings.Contains(msg, "table t has no tokenizer") {
		t.Errorf("/embed with text: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/embed", "application/json", []byte(`{"inputs": [[1], [2], [3], [4]]}`))
	if _, typ := checkTEIError(t, body); code != 413 || typ != "Validation" {
		t.Errorf("/embed with too many inputs: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/embed", "application/json", []byte(`{"inputs": [1, 500]}`))
	if msg, _ := checkTEIError(t, body); code != 422 || !strings.Contains(msg, "inputs[1]: 500") {
		t.Errorf("/embed with an id out of range: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/embed", "application/json", []byte(`{"inputs": [1], "prompt_name": "query"}`))
	if checkTEIError(t, body); code != 422 {
		t.Errorf("/embed with a prompt name: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/embed_all", "application/json", []byte(`{"inputs": [1], "bogus": true}`))
	if msg, _ := checkTEIError(t, body); code != 422 || !strings.Contains(msg, "bogus") {
		t.Errorf("/embed_all with an unknown field: %d %s", code, body)
	}
}

func TestTEIRoutes(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 500, 16, 0)
	ts := newTestServer(t, Config{MaxInputs: 7}, map[string]string{"t": path})
	inputs := [][]int64{{1, 2, 3}, {499}}
	means := bagMean(t, path, inputs)
	for _, c := range []struct {
		body      string
		normalize bool
	}{{`{"inputs": [[1, 2, 3], [499]]}`, true}, {`{"inputs": [[1, 2, 3], [499]], "normalize": false, "truncate": true}`, false}} {
		code, body, _ := ts.post(t, "/embed", "application/json", []byte(c.body))
		if code != 200 {
			t.Fatalf("%s: %d %s", c.body, code, body)
		}
		var got [][]float32
		if err := json.Unmarshal(body, &got); err != nil || len(got) != 2 {
			t.Fatalf("%s: %s", c.body, body)
		}
		for i := range got {
			want := append([]float32(nil), means[i]...)
			if c.normalize {
				normalizeRows(want, 16)
				var n float64
				for _, v := range got[i] {
					n += float64(v) * float64(v)
				}
				if math.Abs(n-1) > 1e-5 {
					t.Errorf("normalised row %d has squared norm %v", i, n)
				}
			}
			if !sameBits(got[i], want) {
				t.Errorf("%s: row %d = %v, want %v", c.body, i, got[i], want)
			}
		}
	}
	// One flat input gives one vector.
	code, body, _ := ts.post(t, "/embed", "application/json", []byte(`{"inputs": [1, 2, 3], "normalize": false}`))
	var one [][]float32
	if json.Unmarshal(body, &one); code != 200 || len(one) != 1 || !sameBits(one[0], means[0]) {
		t.Fatalf("/embed of one input: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/embed_all", "application/json", []byte(`{"inputs": [[1, 2, 3], [499]]}`))
	var all [][][]float32
	if err := json.Unmarshal(body, &all); code != 200 || err != nil || len(all) != 2 || len(all[0]) != 3 || len(all[1]) != 1 {
		t.Fatalf("/embed_all: %d %s", code, body)
	}
	if !sameBits(flatten(all[0]), storeLookup(t, path, inputs[0])) || !sameBits(all[1][0], storeLookup(t, path, inputs[1])) {
		t.Fatal("/embed_all rows differ from lookups")
	}
	code, body, _ = ts.get(t, "/info")
	var info map[string]any
	if err := json.Unmarshal(body, &info); code != 200 || err != nil {
		t.Fatalf("/info: %d %s", code, body)
	}
	if info["model_id"] != "t" || info["max_client_batch_size"] != float64(7) || info["max_input_length"] != float64(DefaultMaxTokens) ||
		info["normalize_default"] != true || info["model_type"].(map[string]any)["embedding"] == nil {
		t.Fatalf("/info: %s", body)
	}
}

func TestLookupRoute(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 300, 12, 8)
	ts := newTestServer(t, Config{}, map[string]string{"t": path})
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	ids := []int64{5, 0, 299, 5, 17, 42}
	want := storeLookup(t, path, ids)
	wantPos := make([]float32, len(want))
	if err := tab.LookupPositions(wantPos, ids, 3, 2); err != nil {
		t.Fatal(err)
	}
	wantSeqs := make([]float32, len(want))
	tab.LookupPositions(wantSeqs[:2*12], ids[:2], 2, 0)
	tab.LookupPositions(wantSeqs[2*12:], ids[2:], 4, 0)
	posRows := make([]float32, 3*12)
	tab.LookupPositionRows(posRows, []int64{7, 0, 3})

	type data struct {
		Table string          `json:"table"`
		Dim   int             `json:"dim"`
		Data  json.RawMessage `json:"data"`
	}
	jsonRows := func(body []byte) []float32 {
		var d data
		if err := json.Unmarshal(body, &d); err != nil || d.Table != "t" || d.Dim != 12 {
			t.Fatalf("lookup response %s", body)
		}
		var flat [][]float32
		if json.Unmarshal(d.Data, &flat) == nil {
			return flatten(flat)
		}
		var nested [][][]float32
		if err := json.Unmarshal(d.Data, &nested); err != nil {
			var b64 []string
			if err := json.Unmarshal(d.Data, &b64); err != nil {
				t.Fatalf("data %s", d.Data)
			}
			var out []float32
			for _, s := range b64 {
				out = append(out, decodeB64Row(t, s)...)
			}
			return out
		}
		var out []float32
		for _, s := range nested {
			out = append(out, flatten(s)...)
		}
		return out
	}
	for _, c := range []struct {
		body string
		want []float32
	}{
		{`{"table": "t", "ids": [5, 0, 299, 5, 17, 42]}`, want},
		{`{"table": "t", "ids": [5, 0, 299, 5, 17, 42], "encoding_format": "base64"}`, want},
		{`{"table": "t", "ids": [[5, 0, 299], [5, 17, 42]]}`, want},
		{`{"table": "t", "ids": [5, 0, 299, 5, 17, 42], "positions": true, "seq_len": 3, "start": 2}`, wantPos},
		{`{"table": "t", "ids": [[5, 0, 299], [5, 17, 42]], "positions": true, "start": 2}`, wantPos},
		{`{"table": "t", "ids": [[5, 0], [299, 5, 17, 42]], "positions": true}`, wantSeqs},
		{`{"table": "t", "ids": [7, 0, 3], "section": "positions"}`, posRows},
	} {
		code, body, _ := ts.post(t, "/v1/lookup", "application/json", []byte(c.body))
		if code != 200 {
			t.Fatalf("%s: %d %s", c.body, code, body)
		}
		if got := jsonRows(body); !sameBits(got, c.want) {
			t.Fatalf("%s: rows %v, want %v", c.body, got, c.want)
		}
	}
	// Binary in, binary out; binary in, npy out; JSON in, binary out.
	code, body, hdr := ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64(ids), "Accept", ctypeOctet)
	if code != 200 || hdr.Get("Content-Type") != ctypeOctet || hdr.Get("Content-Length") != fmt.Sprint(len(want)*4) || !sameBits(le32(body), want) {
		t.Fatalf("binary lookup: %d %v %v", code, hdr, le32(body))
	}
	code, body, _ = ts.post(t, "/v1/lookup?table=t&positions=1&seq_len=3&start=2", ctypeOctet, le64(ids), "Accept", ctypeOctet)
	if code != 200 || !sameBits(le32(body), wantPos) {
		t.Fatalf("binary positional lookup: %d", code)
	}
	code, body, hdr = ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64(ids), "Accept", ctypeNpy)
	if code != 200 || hdr.Get("Content-Type") != ctypeNpy || !bytes.HasPrefix(body, []byte("\x93NUMPY\x01\x00")) ||
		!bytes.Contains(body, []byte("'shape': (6, 12)")) || !sameBits(le32(body[len(body)-len(want)*4:]), want) || (len(body)-len(want)*4)%64 != 0 {
		t.Fatalf("npy lookup: %d %q", code, body[:min(len(body), 80)])
	}
	code, body, _ = ts.post(t, "/v1/lookup", "application/json", []byte(`{"table": "t", "ids": [5, 0, 299, 5, 17, 42]}`), "Accept", ctypeOctet)
	if code != 200 || !sameBits(le32(body), want) {
		t.Fatalf("JSON in, binary out: %d", code)
	}
	code, body, _ = ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64(ids)[:13], "Accept", ctypeOctet)
	if e := checkOpenAIError(t, body); code != 400 || !strings.Contains(*e.Error.Message, "13 bytes") {
		t.Fatalf("ragged binary body: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/v1/lookup?table=t&bogus=1", ctypeOctet, le64(ids), "Accept", ctypeOctet)
	if e := checkOpenAIError(t, body); code != 400 || str(e.Error.Param) != "bogus" {
		t.Fatalf("unknown query parameter: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64([]int64{1, -1}), "Accept", ctypeOctet)
	if e := checkOpenAIError(t, body); code != 400 || str(e.Error.Param) != "ids[1]" || !strings.Contains(*e.Error.Message, "-1") {
		t.Fatalf("negative binary id: %d %s", code, body)
	}
}

func TestLargeResponsesStream(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 4096, 256, 0)
	ts := newTestServer(t, Config{}, map[string]string{"t": path})
	ids := make([]int64, 20000) // 20 MB of rows: several chunks
	for i := range ids {
		ids[i] = int64(i*7919) % 4096
	}
	want := storeLookup(t, path, ids)
	code, body, _ := ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64(ids), "Accept", ctypeOctet)
	if code != 200 || !sameBits(le32(body), want) {
		t.Fatalf("large binary lookup: %d, %d bytes", code, len(body))
	}
	js, _ := json.Marshal(map[string]any{"table": "t", "ids": ids})
	code, body, _ = ts.post(t, "/v1/lookup", "application/json", js)
	var d struct{ Data [][]float32 }
	if err := json.Unmarshal(body, &d); code != 200 || err != nil || !sameBits(flatten(d.Data), want) {
		t.Fatalf("large JSON lookup: %d %v", code, err)
	}
}

func TestBagRoute(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 200, 10, 0)
	ts := newTestServer(t, Config{}, map[string]string{"t": path})
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	ids := []int64{1, 2, 3, 4, 5, 199, 0}
	bag := func(offsets []int64, o store.BagOptions) []float32 {
		bags := len(offsets)
		if o.IncludeLastOffset {
			bags--
		}
		dst := make([]float32, bags*10)
		if err := tab.Bag(dst, ids, offsets, &o); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	w := []float32{0.5, -1, 2, 0.25, 1, 3, -0.5}
	for _, c := range []struct {
		body   string
		binary string // query of the same request in binary, "" for none
		bin    []byte
		want   []float32
	}{
		{`{"table": "t", "ids": [1,2,3,4,5,199,0]}`, "table=t", le64(ids), bag([]int64{0}, store.BagOptions{Mode: store.BagMean})},
		{`{"table": "t", "ids": [1,2,3,4,5,199,0], "offsets": [0, 2, 2, 5], "mode": "sum"}`, "table=t&mode=sum&offsets=4",
			append(le64(ids), le64([]int64{0, 2, 2, 5})...), bag([]int64{0, 2, 2, 5}, store.BagOptions{Mode: store.BagSum})},
		{`{"table": "t", "ids": [1,2,3,4,5,199,0], "offsets": [0, 3, 6], "mode": "max", "include_last_offset": true}`, "table=t&mode=max&offsets=3&include_last_offset=true",
			append(le64(ids), le64([]int64{0, 3, 6})...), bag([]int64{0, 3, 6}, store.BagOptions{Mode: store.BagMax, IncludeLastOffset: true})},
		{`{"table": "t", "ids": [1,2,3,4,5,199,0], "offsets": [0, 4], "mode": "mean", "padding_idx": 199}`, "table=t&offsets=2&padding_idx=199",
			append(le64(ids), le64([]int64{0, 4})...), bag([]int64{0, 4}, store.BagOptions{Mode: store.BagMean, PaddingIdx: new(int64(199))})},
		{`{"table": "t", "ids": [1,2,3,4,5,199,0], "offsets": [0, 4], "mode": "sum", "per_sample_weights": [0.5, -1, 2, 0.25, 1, 3, -0.5]}`, "table=t&mode=sum&offsets=2&weights=true",
			append(append(le64(ids), le64([]int64{0, 4})...), f32le(w)...), bag([]int64{0, 4}, store.BagOptions{Mode: store.BagSum, PerSampleWeights: w})},
		{`{"table": "t", "ids": [[1,2,3],[4,5,199,0]], "mode": "mean"}`, "", nil, bag([]int64{0, 3}, store.BagOptions{Mode: store.BagMean})},
		{`{"table": "t", "ids": [1,2,3,4,5,199,0,0], "bag_size": 4, "mode": "sum"}`, "", nil, func() []float32 {
			ids = append(ids, 0)
			defer func() { ids = ids[:7] }()
			return bag([]int64{0, 4}, store.BagOptions{Mode: store.BagSum})
		}()},
	} {
		code, body, _ := ts.post(t, "/v1/bag", "application/json", []byte(c.body))
		var d struct{ Data [][]float32 }
		if err := json.Unmarshal(body, &d); code != 200 || err != nil || !sameBits(flatten(d.Data), c.want) {
			t.Fatalf("%s: %d %s, want %v", c.body, code, body, c.want)
		}
		if c.binary == "" {
			continue
		}
		code, body, _ = ts.post(t, "/v1/bag?"+c.binary, ctypeOctet, c.bin, "Accept", ctypeOctet)
		if code != 200 || !sameBits(le32(body), c.want) {
			t.Fatalf("binary %s: %d %s", c.binary, code, body)
		}
	}
	nan := append(append(le64([]int64{1, 2}), le64([]int64{0})...), f32le([]float32{1, float32(math.NaN())})...)
	code, body, _ := ts.post(t, "/v1/bag?table=t&mode=sum&offsets=1&weights=1", ctypeOctet, nan)
	if e := checkOpenAIError(t, body); code != 400 || str(e.Error.Param) != "weights[1]" {
		t.Fatalf("NaN weight: %d %s", code, body)
	}
}

func f32le(v []float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestModelsTablesHealthMetrics(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, Config{}, map[string]string{"a": seeded(t, dir, "a", 10, 4, 2), "b": seeded(t, dir, "b", 20, 8, 0)})
	code, body, _ := ts.get(t, "/v1/models")
	var models struct {
		Object string
		Data   []struct {
			ID, Object, OwnedBy, Pooling string
			Dim                          int
		}
	}
	if err := json.Unmarshal(body, &models); code != 200 || err != nil || models.Object != "list" || len(models.Data) != 2 ||
		models.Data[0].ID != "a" || models.Data[1].Dim != 8 || models.Data[0].Object != "model" || models.Data[0].Pooling != "mean" {
		t.Fatalf("/v1/models: %d %s", code, body)
	}
	code, body, _ = ts.get(t, "/v1/models/b")
	if code != 200 || !strings.Contains(string(body), `"id":"b"`) {
		t.Fatalf("/v1/models/b: %d %s", code, body)
	}
	code, body, _ = ts.get(t, "/v1/tables/a")
	var info TableInfo
	if err := json.Unmarshal(body, &info); code != 200 || err != nil || info.Rows != 10 || info.Dim != 4 || info.Positions != 2 ||
		info.DType != "f32" || info.Tokenizer || info.Generation != 1 || info.File.Checksums != "header only" || info.File.HeaderCRC == 0 {
		t.Fatalf("/v1/tables/a: %d %s", code, body)
	}
	var md map[string]any
	if json.Unmarshal(info.Metadata, &md) != nil || md["source"] != "seed" {
		t.Fatalf("/v1/tables/a metadata: %s", info.Metadata)
	}
	code, body, _ = ts.get(t, "/v1/tables/zzz")
	if checkOpenAIError(t, body); code != 404 {
		t.Fatalf("/v1/tables/zzz: %d", code)
	}
	code, body, _ = ts.get(t, "/v1/tables")
	if code != 200 || !strings.Contains(string(body), `"name":"b"`) {
		t.Fatalf("/v1/tables: %d %s", code, body)
	}
	code, body, _ = ts.get(t, "/health")
	if code != 200 || !strings.Contains(string(body), `"tables":2`) {
		t.Fatalf("/health: %d %s", code, body)
	}
	ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "a", "input": [[1, 2], [3]]}`))
	ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "a", "input": [100]}`))
	code, body, _ = ts.get(t, "/metrics")
	for _, want := range []string{
		`embstore_http_requests_total{code="200",route="/v1/embeddings"} 1`,
		`embstore_http_requests_total{code="400",route="/v1/embeddings"} 1`,
		`embstore_rows_read_total{table="a"} 3`,
		`embstore_request_inputs_count{route="/v1/embeddings"} 1`,
		`embstore_table_info{dim="8",dtype="f32",table="b"} 1`,
		`embstore_table_generation{table="a"} 1`,
		`embstore_table_mapped_bytes{table="a"}`,
		`embstore_http_request_duration_seconds_bucket{route="/v1/embeddings"`,
		`go_goroutines`, `process_cpu_seconds_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	ts.SetDraining()
	code, body, _ = ts.get(t, "/health")
	if _, typ := checkTEIError(t, body); code != 503 || typ != "Unhealthy" {
		t.Fatalf("/health while draining: %d %s", code, body)
	}
}

func TestCompressedResponses(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 100, 64, 0)
	ts := newTestServer(t, Config{}, map[string]string{"t": path})
	body := []byte(`{"model": "t", "input": [[1, 2], [3], [4], [5], [6]]}`)
	_, plain, _ := ts.post(t, "/v1/embeddings", "application/json", body)
	for _, enc := range []string{"gzip", "zstd"} {
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/embeddings", bytes.NewReader(body))
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != enc {
			t.Fatalf("%s: Content-Encoding %q", enc, resp.Header.Get("Content-Encoding"))
		}
		var got []byte
		if enc == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			zr, err := zstd.NewReader(nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err = zr.DecodeAll(raw, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, plain) || len(raw) >= len(plain) {
			t.Fatalf("%s: decompressed %d bytes differ from the plain %d (compressed %d)", enc, len(got), len(plain), len(raw))
		}
	}
}

// wordEncoder is a stand-in tokenizer for the test of the text path: each
// word is its length, as an id. The real tokenizers come from the table.
type wordEncoder struct{}

func (wordEncoder) Encode(dst []int64, text string, addSpecial bool) []int64 {
	if addSpecial {
		dst = append(dst, 0)
	}
	for _, w := range strings.Fields(text) {
		dst = append(dst, int64(len(w)))
	}
	return dst
}

func TestTextInputsUseTheTableEncoder(t *testing.T) {
	dir := t.TempDir()
	path := seeded(t, dir, "t", 50, 8, 0)
	ts := newTestServer(t, Config{Encoder: func(*store.Table) TextEncoder { return wordEncoder{} }}, map[string]string{"t": path})
	want := bagMean(t, path, [][]int64{{0, 5, 5}, {0, 1}})
	code, body, _ := ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "t", "input": ["hello world", "a"]}`))
	var r embeddingsResponse
	if err := json.Unmarshal(body, &r); code != 200 || err != nil || len(r.Data) != 2 || r.Usage.PromptTokens != 5 {
		t.Fatalf("%d %s", code, body)
	}
	for i, d := range r.Data {
		var row []float32
		json.Unmarshal(d.Embedding, &row)
		if !sameBits(row, want[i]) {
			t.Fatalf("text input %d: %v, want %v", i, row, want[i])
		}
	}
	// A text the tokenizer turns into no ids gives an empty group on
	// /embed_all, which stays well-formed.
	ts2 := newTestServer(t, Config{Encoder: func(*store.Table) TextEncoder { return emptyEncoder{} }}, map[string]string{"t": path})
	code, body, _ = ts2.post(t, "/embed_all", "application/json", []byte(`{"inputs": ["x", "y"]}`))
	if code != 200 || string(body) != "[[],[]]\n" {
		t.Fatalf("/embed_all of texts without tokens: %d %q", code, body)
	}
	code, body, _ = ts.get(t, "/v1/tables/t")
	if !strings.Contains(string(body), `"tokenizer":true`) {
		t.Fatalf("/v1/tables/t does not report the tokenizer: %s", body)
	}
}

type emptyEncoder struct{}

func (emptyEncoder) Encode(dst []int64, text string, addSpecial bool) []int64 { return dst }
