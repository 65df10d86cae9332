package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/store"
)

// coldFlags are the flags for tables larger than memory: --prefetch, and
// with lock, --lock-hot, --lock-hot-file and --lock-hot-interval.
type coldFlags struct {
	prefetch     *bool
	lockHot      *int
	lockHotFile  *string
	lockInterval *time.Duration
}

// addColdFlags adds --prefetch, and with lock the hot-row locking flags.
func addColdFlags(fs *pflag.FlagSet, lock bool) *coldFlags {
	c := &coldFlags{prefetch: fs.Bool("prefetch", false,
		"advise the kernel of each batch's pages before gathering it (MADV_WILLNEED), so that the disk reads of a table larger than memory overlap")}
	if lock {
		c.lockHot = fs.Int("lock-hot", 0, "lock the pages of the `N` most used rows in memory (mlock), learned from the traffic")
		c.lockHotFile = cli.ListFlag(fs, "lock-hot-file", "lock the pages of the rows whose ids `FILE` holds (whitespace-separated) instead of learning them")
		c.lockInterval = fs.Duration("lock-hot-interval", store.DefaultLockHotInterval, "with --lock-hot: how often the most used rows are locked anew")
	}
	return c
}

// apply checks the flags and sets them in o.
func (c *coldFlags) apply(fs *pflag.FlagSet, o *store.Options) error {
	o.Prefetch = *c.prefetch
	if c.lockHot == nil {
		return nil
	}
	switch {
	case *c.lockHot < 0:
		return cli.Usagef("--lock-hot %d: want a positive number of rows", *c.lockHot)
	case *c.lockHot > 0 && *c.lockHotFile != "":
		return cli.Usagef("--lock-hot learns the rows to lock and --lock-hot-file gives them: choose one")
	case fs.Changed("lock-hot-interval") && *c.lockHot == 0:
		return cli.Usagef("--lock-hot-interval goes with --lock-hot")
	case *c.lockInterval <= 0:
		return cli.Usagef("--lock-hot-interval %v: want a positive interval", *c.lockInterval)
	}
	o.LockHot, o.LockHotInterval = *c.lockHot, *c.lockInterval
	if *c.lockHotFile != "" {
		f, err := os.Open(*c.lockHotFile)
		if err != nil {
			return err
		}
		defer f.Close()
		var ids []int64
		src, buf := newStdinIDs(f, *c.lockHotFile), make([]int64, lookupChunk)
		for {
			n, err := src.next(buf)
			ids = append(ids, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return cli.Usagef("--lock-hot-file %s: %v", *c.lockHotFile, err)
			}
		}
		if len(ids) == 0 {
			return cli.Usagef("--lock-hot-file %s holds no ids", *c.lockHotFile)
		}
		o.LockHotIDs = ids
	}
	return nil
}
