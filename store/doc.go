// Package store serves embedding lookups from a memory-mapped embstore table
// file, as torch.nn.Embedding does inside a model, without Python.
//
// Open maps a table file (see the format package) read-only. Opening costs
// about the same for any table size: only the header and metadata are read,
// rows are paged in by the operating system as lookups touch them, and the
// pages are shared with every other process that maps the same file. Tables
// larger than memory work; the page cache holds what is used.
//
//	t, err := store.Open("gpt2.emb", nil)
//	if err != nil { ... }
//	defer t.Close()
//	out := make([]float32, len(ids)*t.Dim())
//	err = t.Lookup(out, ids)                    // token embeddings
//	err = t.LookupPositions(out, ids, len(ids), 0) // plus positions 0..len-1
//
// Lookups write into a caller-provided []float32 and do not allocate. Ids are
// int64, as in torch; an id outside the table is an *IndexError naming it,
// a position outside the positional table a *PositionError, never a panic.
//
// With Options.Threads above 1, Open starts a pool of worker goroutines that
// live until Close; calls of at least a few hundred rows (and a megabyte of
// output) are cut into pieces gathered in parallel, with the same results.
//
// # Concurrency and lifetimes
//
// A Table is safe for concurrent use. Close waits for lookups in progress to
// finish, then unmaps the file; every later call returns ErrClosed, so no
// lookup ever reads unmapped memory.
//
// Table.View gives zero-copy access to f32 rows: the slices alias the mapped
// file, are valid only until the function passed to View returns, and must
// never be written (the mapping is read-only; a write faults and crashes the
// program). The table cannot be closed while a View function runs.
//
// # Files changed underneath
//
// Table files are written atomically (a new file is renamed into place), so a
// mapped file normally never changes. If another program truncates a mapped
// file anyway, reading the missing pages raises SIGBUS, which would kill a Go
// program. Every read of the mapping runs with runtime/debug.SetPanicOnFault
// on its goroutine, and the fault comes back as a *FaultError: the process
// survives, and the table should be reopened.
//
// # Platforms
//
// On Linux, macOS and other Unix systems the file is mapped with mmap(2) and
// rows are read in place. Elsewhere (Windows) it is read through
// golang.org/x/exp/mmap, which copies rows out instead: lookups give the same
// results, more slowly, and View rows are copies.
package store
