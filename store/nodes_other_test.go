//go:build !unix

package store

import "errors"

func mkfifo(p string) error { return errors.New("no named pipes") }
