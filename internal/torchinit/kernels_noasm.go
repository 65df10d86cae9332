//go:build !amd64 || !gc || noasm

package torchinit

// supportedLevels returns the kernel levels this build can run: only the
// reference.
func supportedLevels() []kernelLevel { return []kernelLevel{levelRef} }

// kernelsFor returns the kernel set of level l.
func kernelsFor(l kernelLevel) kernelSet {
	if l != levelRef {
		panic("torchinit: kernel level " + l.String() + " not supported by this build")
	}
	return refKernels
}
