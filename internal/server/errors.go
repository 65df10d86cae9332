package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// A family is the API a route belongs to; it decides the shape of errors.
type family int

const (
	familyOpenAI family = iota // /v1/*: {"error": {"message", "type", "param", "code"}}
	familyTEI                  // /embed, /embed_all, /info: {"error", "error_type"}
)

// An apiError is a request that failed: the status, a message that names the
// field and the value at fault, and the field (param) and a machine code.
type apiError struct {
	status  int
	message string
	param   string // the request field at fault, "" if none
	code    string // OpenAI's "code": a short machine-readable reason, "" for null
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, param, code, format string, args ...any) *apiError {
	return &apiError{status: status, param: param, code: code, message: fmt.Sprintf(format, args...)}
}

func badRequest(param, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, param, "invalid_value", format, args...)
}

// openAIType is OpenAI's error "type" for a status.
func openAIType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error"
	case status == http.StatusTooManyRequests:
		return "requests" // what OpenAI sends with code rate_limit_exceeded
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// teiType is TEI's "error_type" for a status.
func teiType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusTooManyRequests:
		return "Overloaded"
	case http.StatusServiceUnavailable:
		return "Unhealthy"
	case http.StatusNotFound:
		return "NotFound"
	}
	if status >= 500 {
		return "Backend"
	}
	return "Validation"
}

// errorBody returns e as the JSON body of family f.
func (e *apiError) body(f family) []byte {
	b := make([]byte, 0, 128+len(e.message))
	if f == familyTEI {
		b = append(b, `{"error":`...)
		b = appendJSONString(b, e.message)
		b = append(b, `,"error_type":`...)
		b = appendJSONString(b, teiType(e.status))
		return append(b, "}\n"...)
	}
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, e.message)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, openAIType(e.status))
	b = append(b, `,"param":`...)
	b = appendNullable(b, e.param)
	b = append(b, `,"code":`...)
	b = appendNullable(b, e.code)
	return append(b, "}}\n"...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// writeError writes e to w in the shape of family f.
func writeError(w http.ResponseWriter, f family, e *apiError) {
	body := e.body(f)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Encoding")
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="embquery"`)
	}
	w.WriteHeader(e.status)
	w.Write(body)
}
