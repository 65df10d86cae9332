// Command _generate writes the amd64 gather and bag kernels of package
// kernel with avo: ../gather_amd64.s and its Go declarations,
// ../gather_stubs_amd64.go. Run it with "go run ." in this directory (or
// "go generate" in the kernel package); the output is committed.
//
// Every kernel must give, bit for bit, the result of the reference
// implementation in ../gather_generic.go, NaN payloads included. The
// operand order of each floating-point instruction is chosen for that: on
// x86 a binary operation that meets two NaNs returns its first source,
// quieted, so each instruction below names its first source in a comment
// where the reference's compiled Go decides it.
package main

import (
	"flag"
	"log"

	. "github.com/mmcloughlin/avo/build"
)

// The files of this command:
//
//	gen.go     main: the families of kernels, generated in order (avo
//	           names the file holding main in the generated files)
//	fn.go      what every kernel family shares: instruction sets, dtypes,
//	           register shapes, and the state of the function being
//	           generated (fn) with its helpers (loads and stores of every
//	           dtype, prefetching, the ids bounds)
//	gather.go  the gathers, with and without positional rows
//	bag.go     the bag poolings (sum, weighted sum, max)
//
// A new family (a file of its own) adds its generator to families; it
// builds on fn's helpers. Adding one changes gather_amd64.s only by
// appending its functions.

// families generate the kernel families, in the order of their functions
// in gather_amd64.s.
var families = []func(){genGathers, genBags}

func main() {
	// Defaults, so that "go run ." with no flags regenerates the package.
	for name, value := range map[string]string{
		"out":   "../gather_amd64.s",
		"stubs": "../gather_stubs_amd64.go",
		"pkg":   "kernel",
	} {
		if err := flag.Set(name, value); err != nil {
			log.Fatal(err)
		}
	}
	generateDot() // dot.go: dot_amd64.s, dot_stubs_amd64.go
	ConstraintExpr("amd64,gc,!noasm")
	for _, gen := range families {
		gen()
	}
	Generate()
}
