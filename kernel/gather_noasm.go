//go:build !amd64 || !gc || noasm

package kernel

import "fmt"

// supportedLevels returns the kernel levels this build can run: only the
// reference.
func supportedLevels() []kernelLevel { return []kernelLevel{levelRef} }

// setKernels installs the inner functions of level l.
func setKernels(l kernelLevel) {
	if l != levelRef {
		panic(fmt.Sprintf("kernel: level %s not supported by this build", l))
	}
	gatherChunk, bagChunk = gatherChunkRef, bagChunkRef
}
