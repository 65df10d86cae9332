package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// keys holds the accepted API keys, as SHA-256 digests so that comparing
// a presented key against each costs the same whatever its length. An empty
// set (no key file) lets every request in.
type keys struct {
	file    string
	digests atomic.Pointer[[][sha256.Size]byte]
}

// loadKeys reads the key file: one key per line; blank lines and lines
// starting with '#' are skipped, surrounding spaces trimmed.
func loadKeys(file string) (*keys, error) {
	k := &keys{file: file}
	if file == "" {
		return k, nil
	}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// reload re-reads the key file. On error the keys in use are kept.
func (k *keys) reload() error {
	if k.file == "" {
		return nil
	}
	data, err := os.ReadFile(k.file)
	if err != nil {
		return fmt.Errorf("api key file: %w", err)
	}
	var ds [][sha256.Size]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ds = append(ds, sha256.Sum256([]byte(line)))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("api key file %s: %w", k.file, err)
	}
	if len(ds) == 0 {
		return fmt.Errorf("api key file %s holds no key (one key per line; # starts a comment)", k.file)
	}
	k.digests.Store(&ds)
	return nil
}

// enabled reports whether requests need a key.
func (k *keys) enabled() bool { return k.file != "" }

// allowed reports whether the Authorization header value carries an
// accepted key ("Bearer KEY"). Every accepted key is compared, in constant
// time, whatever matches first.
func (k *keys) allowed(header string) bool {
	const prefix = "Bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	ok := 0
	for _, want := range *k.digests.Load() {
		ok |= subtle.ConstantTimeCompare(d[:], want[:])
	}
	return ok == 1
}
