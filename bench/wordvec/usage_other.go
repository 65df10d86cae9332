//go:build !unix

package main

// usage is not measured on this system.
func usage() (cpu, maxRSSMB float64) { return 0, 0 }
