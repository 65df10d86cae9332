// Package server is the HTTP server behind embquery serve: it serves embstore
// tables to programs in any language through the APIs they already have
// clients for.
//
//   - OpenAI's POST /v1/embeddings (and GET /v1/models): one vector per
//     input, the mean of its tokens' rows, as float arrays or base64;
//   - Hugging Face text-embeddings-inference's POST /embed, POST /embed_all
//     and GET /info;
//   - native routes for per-token rows and bags, POST /v1/lookup and
//     POST /v1/bag, in JSON or as little-endian binary bodies, and
//     GET /v1/tables;
//   - GET /health and GET /metrics (Prometheus, on the server's own registry).
//
// Each table is a Source that hands every request one version of the table:
// a table file is a store.Follower, so a file renamed over is swapped in
// without failing a request, and every response is computed from one
// version of one file; embquery route adds the tables of a cluster as
// Sources of their own (AddSource), answered through the same handlers.
// Errors on /v1/* have OpenAI's shape
// ({"error": {"message", "type", "param", "code"}}), on the TEI routes TEI's
// ({"error", "error_type"}). Requests are bounded (body size, inputs,
// tokens, requests at once) and optionally need a bearer key.
//
// The files have one job each: server.go the routes and what every request
// goes through; errors.go the error shapes; scan.go the parser of id, text
// and weight arrays; decode.go the request bodies; compute.go the chunked
// lookups and bags; encode.go, rows.go and ftoa.go the output encodings (a
// Dragonbox float32 formatter for JSON numbers, which writes them as
// encoding/json does); tables.go the served
// tables; backend.go the Table and Source interfaces, and the table file as
// one; limits.go and auth.go what guards the handlers; metrics.go the
// Prometheus metrics; handlers_*.go the routes.
package server
