package format

import "os"

// writebackChunk is how many bytes a FileWriter writes between two requests
// to the kernel to start writing them to disk.
const writebackChunk = 8 << 20

// writebackFile is the target of a FileWriter: it asks the kernel to start
// writing each writebackChunk bytes to disk as soon as they are written
// (startWriteback, Linux only), so that the disk works while the table is
// still being computed and Commit's fsync finds little left to do.
type writebackFile struct {
	*os.File
	written, started int64
}

func (f *writebackFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	if f.written-f.started >= writebackChunk {
		startWriteback(f.File, f.started, f.written-f.started)
		f.started = f.written
	}
	return n, err
}
