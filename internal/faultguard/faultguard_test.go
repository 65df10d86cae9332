package faultguard

import (
	"errors"
	"testing"
)

func TestRunPassesThrough(t *testing.T) {
	want := errors.New("x")
	if err := Run(func() error { return want }); err != want {
		t.Fatalf("Run returned %v, want fn's error", err)
	}
	if err := Run(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != "not a fault" {
			t.Fatalf("recovered %v, want the panic to propagate", r)
		}
	}()
	Run(func() error { panic("not a fault") })
}
