// Embquery looks up embeddings in embstore table files from the shell.
//
// Usage:
//
//	embquery <command> [flags] FILE
//
// The commands are:
//
//	lookup   print the rows of token ids, optionally with positions added
//	bag      pool bags of ids (sum, mean, max), as torch's EmbeddingBag
//	bench    measure lookups on this machine; prints one JSON line
//	serve    serve tables over HTTP (OpenAI, TEI and native routes)
//	route    serve a cluster's sharded tables over the same HTTP API
//
// Run 'embquery <command> --help' for a command's flags. Exit status is 0 on
// success, 1 when the command fails, 2 for a mistake on the command line.
// Data goes to standard output, messages to standard error.
package main

import (
	"os"

	"github.com/embstore/embstore/internal/cli"
)

type env = cli.Env

func subcommands() []cli.Sub {
	return []cli.Sub{
		{Command: lookupCommand, Summary: "print the rows of token ids, optionally with positions added", Run: runLookup},
		{Command: bagCommand, Summary: "pool bags of ids (sum, mean, max), as torch's EmbeddingBag", Run: runBag},
		{Command: benchCommand, Summary: "measure lookups on this machine; prints one JSON line", Run: runBench},
		{Command: serveCommand, Summary: "serve tables over HTTP (OpenAI, TEI and native routes)", Run: runServe},
		{Command: routeCommand, Summary: "serve a cluster's sharded tables over the same HTTP API", Run: runRoute},
	}
}

func main() {
	os.Exit(run(os.Args[1:], env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

func run(args []string, e env) int {
	return cli.Dispatch("embquery", "Embquery looks up embeddings in embstore table files.", subcommands(), args, e)
}
