// Embpack creates, inspects and verifies embstore table files.
//
// Usage:
//
//	embpack <command> [flags] [arguments]
//
// The commands are:
//
//	init     draw a table from a seed, bit-identical to torch.nn.Embedding
//	inspect  print a table's header, sections and metadata
//	verify   recompute every checksum of a table
//	import   import the embedding table of a safetensors checkpoint
//	export   write a table as a safetensors file
//	convert  store a table's rows in another dtype (f32, f16, bf16, int8)
//	shard    split a table into row-range shards with a manifest (or --verify them)
//	unshard  join shards back into the original table, bit for bit
//	demo     build the seed example table and look up ids 2,3,5,1 with positions
//
// Run 'embpack <command> --help' for a command's flags. Exit status is 0 on
// success, 1 when the command fails, 2 for a mistake on the command line.
// Data goes to standard output, messages to standard error.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/pack"
)

type env = cli.Env

func subcommands() []cli.Sub {
	return []cli.Sub{
		{Command: initCommand, Summary: "draw a table from a seed, bit-identical to torch.nn.Embedding", Run: runInit},
		{Command: inspectCommand, Summary: "print a table's header, sections and metadata", Run: runInspect},
		{Command: verifyCommand, Summary: "recompute every checksum of a table", Run: runVerify},
		{Command: importCommand, Summary: "import the embedding table of a safetensors checkpoint", Run: runImport},
		{Command: exportCommand, Summary: "write a table as a safetensors file", Run: runExport},
		{Command: convertCommand, Summary: "store a table's rows in another dtype (f32, f16, bf16, int8)", Run: runConvert},
		{Command: shardCommand, Summary: "split a table into row-range shards with a manifest (or --verify them)", Run: runShard},
		{Command: unshardCommand, Summary: "join shards back into the original table, bit for bit", Run: runUnshard},
		{Command: demoCommand, Summary: "build the seed example table and look up ids 2,3,5,1 with positions", Run: runDemo},
	}
}

// creator is recorded in the metadata of every table embpack writes.
var creator = "embpack " + cli.Version

// packOptions returns the options of a pack call: the command's progress
// bar (nil for none), --force, the creator.
func packOptions(progress func(done, total int64), force bool) *pack.Options {
	return &pack.Options{Progress: progress, NoReplace: !force, Creator: creator}
}

// specUsage turns a *pack.SpecError about one of the fields in flags (a
// spec field, e.g. "SeedSpec.Init", and the flags that set it) into a
// command-line mistake naming the flags; other errors pass unchanged.
func specUsage(err error, flags map[string]string) error {
	var se *pack.SpecError
	if errors.As(err, &se) {
		if f, ok := flags[se.Field]; ok {
			return cli.Usagef("%s: %s", f, se.Problem)
		}
	}
	return err
}

// specError turns a *pack.SpecError about a field in flags into an error
// naming the flags (the command still fails, with status 1).
func specError(err error, flags map[string]string) error {
	var se *pack.SpecError
	if errors.As(err, &se) {
		if f, ok := flags[se.Field]; ok {
			return fmt.Errorf("%s %v: %s", f, se.Value, errctx.Strip(se.Problem))
		}
	}
	return err
}

// about is the program's one-line description.
const about = "Embpack creates, inspects and verifies embstore table files."

func main() { os.Exit(cli.Main("embpack", about, subcommands())) }

// run runs the command line args in e, as main does (without its signal
// handling): the tests call it.
func run(args []string, e env) int { return cli.Dispatch("embpack", about, subcommands(), args, e) }
