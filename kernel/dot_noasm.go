//go:build !amd64 || !gc || noasm

package kernel

import "fmt"

// setDotKernels installs the dot-product kernels of level l: only the
// reference in this build.
func setDotKernels(l kernelLevel) {
	if l != levelRef {
		panic(fmt.Sprintf("kernel: level %s not supported by this build", l))
	}
	dotRows = dotRowsRef
}
