package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
)

var shardCommand = cli.Command{
	Name:     "embpack shard",
	Synopsis: "embpack shard FILE --shards N -o DIR [--name NAME] [--version V] [--force]\n       embpack shard --verify DIR",
	Help: `
Shard splits a table into N row-range tables, as TorchRec's row-wise sharding
does: shard i holds a contiguous range of the token rows (the ranges differ by
at most one row), the whole positional table, the vocabulary strings and
norms of its rows (its row i is row start+i of the table, and its vocabulary
gives that string id i), the whole tokenizer (whose ids stay the table's), and
metadata recording the table's name, version, the shard's index and range,
the original's pooling, vocabulary and tokenizer keys, and the original
file's metadata. Tables with fastText subwords are refused: their bucket rows
cannot be split by row range yet. Each shard is an ordinary table: 'embquery serve' serves it and
reports its range, and with --etcd announces it so that clients and routers
find it. DIR/manifest.json lists the shards (range, file name, size, header
checksum) and is written last.

--verify DIR checks a shard directory against its manifest: every file there,
of the recorded size and header checksum, every checksum inside it holding,
and every shard agreeing with the others. 'embpack unshard DIR -o FILE' joins
the shards back into the original file, bit for bit.`,
}

func runShard(e env, args []string) error {
	fs := cli.NewFlagSet(shardCommand)
	shards := fs.Int("shards", 0, "split into `N` shards (required)")
	out := fs.StringP("output", "o", "", "write the shards and manifest.json to `DIR` (required; created if missing)")
	name := fs.String("name", "", "the table's name in the shards (default: FILE's base name without .emb)")
	version := fs.Uint64("version", 1, "the table's version, 1 or more: clients move to a higher version once all its shards are served")
	verify := fs.Bool("verify", false, "check the shard directory DIR against its manifest instead")
	force := fs.BoolP("force", "f", false, "replace shard files and a manifest already in DIR")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success; no progress bar")
	if err := cli.Parse(fs, shardCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one argument (FILE, or DIR with --verify), got %d", fs.NArg())
	}
	if *verify {
		if fs.Changed("shards") || fs.Changed("output") || fs.Changed("name") || fs.Changed("version") || *force {
			return cli.Usagef("--verify takes only the shard directory")
		}
		return verifyShards(e, fs.Arg(0), *quiet)
	}
	switch {
	case !fs.Changed("shards") || !fs.Changed("output") || *out == "":
		return cli.Usagef("--shards and --output are required")
	case *shards < 1:
		return cli.Usagef("--shards %d: want at least 1", *shards)
	case *version < 1:
		return cli.Usagef("--version %d: want 1 or more", *version)
	case *out == "-":
		return cli.Usagef("--output -: shards are written to a directory, not to standard output")
	}
	progress, finish := cli.NewProgress(e.Stderr, *quiet, "sharding")
	start := time.Now()
	m, err := pack.Shard(context.Background(), fs.Arg(0), *out, pack.ShardSpec{Name: *name, Version: *version, Shards: *shards},
		packOptions(progress, *force))
	finish()
	if err != nil {
		return specError(err, map[string]string{"ShardSpec.Name": "--name", "ShardSpec.Shards": "--shards"})
	}
	if !*quiet {
		for _, s := range m.Shards {
			fmt.Fprintf(e.Stdout, "%s rows [%d, %d) %s crc %#08x\n", filepath.Join(*out, s.File), s.RowStart, s.RowEnd, humanBytes(s.Size), s.HeaderCRC)
		}
		fmt.Fprintf(e.Stderr, "embpack: split %s (%d x %d %s) into %d shards of table %s version %d in %.2fs; manifest %s\n",
			fs.Arg(0), m.Rows, m.Dim, m.DType, len(m.Shards), m.Table, m.Version, time.Since(start).Seconds(),
			filepath.Join(*out, pack.ManifestName))
	}
	return nil
}

func verifyShards(e env, dir string, quiet bool) error {
	checks, err := pack.VerifyShards(context.Background(), dir)
	failed := 0
	for _, c := range checks {
		if c.Err != nil {
			failed++
		}
		if quiet {
			continue
		}
		if c.Err != nil {
			fmt.Fprintf(e.Stdout, "FAIL %s: %v\n", c.File, c.Err)
		} else {
			fmt.Fprintf(e.Stdout, "ok   %s\n", c.File)
		}
	}
	switch {
	case err != nil && failed == 0:
		return err // the manifest itself
	case failed > 0:
		return fmt.Errorf("%s: %d of %d shards failed", dir, failed, len(checks))
	}
	if !quiet {
		fmt.Fprintf(e.Stdout, "%s: all %d shards match the manifest\n", dir, len(checks))
	}
	return nil
}

var unshardCommand = cli.Command{
	Name:     "embpack unshard",
	Synopsis: "embpack unshard DIR -o FILE [--force]",
	Help: `
Unshard joins the shards listed in DIR/manifest.json back into the table they
were split from: the same bytes as the original file. It refuses shards that
disagree with the manifest or with each other, and checks the header it is
about to write (which holds every section's checksum) against the original's,
so a damaged shard is reported, not joined.`,
}

func runUnshard(e env, args []string) error {
	fs := cli.NewFlagSet(unshardCommand)
	out := fs.StringP("output", "o", "", "write the table to `FILE` (required)")
	force := fs.BoolP("force", "f", false, "replace FILE if it exists")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success; no progress bar")
	if err := cli.Parse(fs, unshardCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one DIR, got %d arguments", fs.NArg())
	}
	if err := cli.TableOutput(*out); err != nil {
		return err
	}
	progress, finish := cli.NewProgress(e.Stderr, *quiet, "joining")
	start := time.Now()
	err := pack.Unshard(context.Background(), fs.Arg(0), *out, packOptions(progress, *force))
	finish()
	if err != nil {
		return err
	}
	if !*quiet {
		summarize(e, *out, time.Since(start))
	}
	return nil
}
