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
//	out := make([]float32, len(ids)*t.Header().Dim)
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
// # Tables larger than memory
//
// A table larger than the memory the process may use is served from the
// page cache, a disk read for each row not in it. Options.Mode MapRandom
// turns read-ahead off (with it, a fault on a random row reads megabytes
// around it and evicts rows in use); Options.Prefetch advises the kernel of
// a batch's pages before the gather (MADV_WILLNEED), so that the reads of
// one batch overlap; Options.LockHot locks the pages of the most used rows
// (mlock), learned from a sample of a few ids per call, and
// Options.LockHotIDs locks given rows. Neither adds an allocation or a lock
// to a call. BENCHMARKS.md has the measurements (bench/cold.sh).
//
// # Who checks what
//
// Each check has one owner. The store owns the arguments of a call: Bounds
// (built once at Open from the header) checks every argument of Lookup,
// LookupPositions, LookupPositionRows and Bag once, before any row is read
// and before the call is cut into pieces for the worker pool: the output's
// size, every id (so that an error leaves the output unchanged), the
// positions, the bags' offsets, weights, mode and padding id; and of
// Nearest, NearestBatch and MostSimilar (nearest_checks.go): the queries'
// width and values, k, the output, the options, the inputs' ids. The same
// Bounds methods check the arguments of client.Table and the cluster
// client, so that they refuse what the store refuses, with the same errors.
// The kernel owns its tables' geometry, checked once at Open by
// kernel.NewTable, and keeps only a backstop on ids (one compare per id in
// its inner loops, assembly included) so that nothing reads outside the
// table even if the caller changes ids during a call; such an id comes back
// as the *IndexError the check would have given. The format package owns
// the file: Open validates the header and metadata once (format.NewReader).
//
// # Concurrency and lifetimes
//
// A Table is safe for concurrent use, and no call takes a lock. Close waits
// for the calls in progress (lookups, bags, View callbacks) to finish, then
// unmaps the file; every call that starts after Close has begun returns
// ErrClosed, so no call ever reads unmapped memory. Calls may nest: a Lookup
// inside a View callback works, and once Close has begun it returns ErrClosed
// (the callback then returns, and Close proceeds) instead of deadlocking.
// Close itself must not be called from inside a View callback of the same
// table, since it would wait for that callback.
//
// How calls are counted, and why it scales: a call enters by adding 1 to one
// of many reader counters ("stripes"), then reads the table's closing flag,
// and leaves by subtracting 1 from the same stripe. Close sets the flag, then
// waits for every stripe to read 0. The atomic operations are sequentially
// consistent, so for any call and Close, either the call sees the flag and
// backs out, or Close sees the call's count and waits for it. Each stripe has
// two cache lines to itself (x86 fetches lines in adjacent pairs), and a call
// picks its stripe by hashing the address of its goroutine's stack: a
// goroutine keeps its stack, and so its stripe, from call to call, and
// goroutines running at the same time have different stacks. There are 8
// stripes per GOMAXPROCS at Open (a power of two, 16 to 4096).
//
// On paper, for 64 cores answering batch-1 requests (one 768-value f32 row,
// about 100 to 200 ns of gathering each): the sync.RWMutex this replaced made
// every call do two atomic read-modify-writes (RLock, RUnlock) on one shared
// word. Each must own the word's cache line exclusively, so the line moves
// from core to core on nearly every call, and the moves are serialised: at
// 60 to 100 ns per transfer between cores of one socket (more across
// sockets) the lock alone caps the whole machine at roughly 5 to 8 million
// calls per second, what one or two cores gather on their own, and each
// added core adds waiting instead of work. With stripes, 64 cores write 64 mostly different
// lines: a line stays in its core's cache in the modified state, an atomic
// add on it costs about 20 cycles, and the closing flag's line, which is only
// read, sits in every cache without traffic. With 512 stripes (8 x 64) a
// goroutine shares its stripe with one of the 63 others with probability
// about 63/512 (12%), so a few lines are shared by two cores instead of one
// line by 64; throughput grows with the cores until the memory system, not
// the bookkeeping, is the limit. The price is 64 KiB of counters per table
// and a Close that polls the stripes (microseconds when no call is running).
// BENCHMARKS.md has the measurement on 2 cores.
//
// Table.Nearest and Table.NearestBatch search the rows exactly for the k
// most similar to query vectors (cosine, dot product or Euclidean distance),
// in one pass over the table however many queries a batch holds, split
// across the worker pool; Table.MostSimilar is gensim's most_similar
// (analogies: king - man + woman) on top of it. Results equal a ranking in
// exact arithmetic except between rows whose scores are closer than float32
// rounding, which rank by id; like lookups, searches do not allocate.
//
// Table.View gives zero-copy access to f32 rows: the slices alias the mapped
// file, are valid only until the function passed to View returns, and must
// never be written (the mapping is read-only: a write faults, and the call
// returns a *FaultError saying so).
//
// # Vocabulary, tokenizer, norms and subwords
//
// A table of format 1.1 may carry the string of each row, its tokenizer,
// the norms of its rows and fastText's subword rows (format/SPEC.md). Open
// reads only their fixed fields, so it costs the same with a vocabulary of
// millions of strings. Table.Vocabulary maps strings to rows (ID, through
// the hash index in the file, without allocating) and rows to strings
// (AppendString; View.String without copying), and gives word vectors
// (WordVector: the row of a known word, else fastText's mean of its n-gram
// rows when the table has Subwords). Table.Tokenizer decompresses and
// parses the tokenizer on first use and shares it. Table.ReadNorms and
// View.Norms give the norms for cosine similarity. A corrupt offset or
// index entry met by a lookup is an error wrapping format.ErrBadVocabulary,
// never a crash or an endless probe; Options.Verify checks them all at Open.
//
// # Files changed underneath
//
// Table files are written atomically (a new file is renamed into place), so a
// mapped file normally never changes: replacing a table by rename is the
// supported way to publish a new one, and an open Table keeps serving the
// old file until it is reopened. A program that writes into the file in
// place instead (cp over it, anything that opens it for writing) changes the
// rows under the mapping: lookups return whatever the file holds at that
// moment, possibly a mix of old and new rows, while Header and Metadata
// still describe the file as it was opened. Table.CheckFile detects this
// (size, modification time and header page, at the cost of a stat call);
// callers that cannot rule out such writers call it after each batch of
// work and reopen on ErrModified. If the file is truncated, reading the
// missing pages raises SIGBUS, which would kill a Go program: every read of
// the mapping runs with runtime/debug.SetPanicOnFault on its goroutine, and
// the fault comes back as a *FaultError whose Cause says what happened
// (FaultTruncated; FaultWrite for a write into a View row): the process
// survives, and the table should be reopened.
//
// # Platforms
//
// On Linux, macOS and other Unix systems the file is mapped with mmap(2) and
// rows are read in place. Elsewhere (Windows) it is read through
// golang.org/x/exp/mmap, which copies rows out instead: lookups give the same
// results, more slowly, and View rows are copies.
package store
