//go:build !unix

package main

import "os"

// mapFile reads the file at path into memory (no mapping here).
func mapFile(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
