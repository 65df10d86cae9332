// Embquery looks up embeddings in embstore table files from the shell.
//
// Usage:
//
//	embquery <command> [flags] FILE
//
// The commands are:
//
//	lookup   print the rows of token ids, texts, tokens or words, optionally with positions added
//	bag      pool bags of ids, texts or words (sum, mean, max), as torch's EmbeddingBag
//	embed    one vector per text: its tokens' rows pooled (mean, max, cls, last)
//	tokenize print the token ids of texts, with the table's tokenizer
//	decode   print the text of token ids
//	similar  print the rows most similar to a row, a word, a vector or an analogy
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
		{Command: lookupCommand, Summary: "print the rows of token ids, texts, tokens or words, optionally with positions added", Run: runLookup},
		{Command: bagCommand, Summary: "pool bags of ids, texts or words (sum, mean, max), as torch's EmbeddingBag", Run: runBag},
		{Command: embedCommand, Summary: "one vector per text: its tokens' rows pooled (mean, max, cls, last)", Run: runEmbed},
		{Command: tokenizeCommand, Summary: "print the token ids of texts, with the table's tokenizer", Run: runTokenize},
		{Command: decodeCommand, Summary: "print the text of token ids", Run: runDecode},
		{Command: similarCommand, Summary: "print the rows most similar to a row, a word, a vector or an analogy", Run: runSimilar},
		{Command: benchCommand, Summary: "measure lookups on this machine; prints one JSON line", Run: runBench},
		// serve and route drain requests in flight on SIGTERM themselves.
		{Command: serveCommand, Summary: "serve tables over HTTP (OpenAI, TEI and native routes)", Run: runServe, OwnSignals: true},
		{Command: routeCommand, Summary: "serve a cluster's sharded tables over the same HTTP API", Run: runRoute, OwnSignals: true},
	}
}

// about is the program's one-line description.
const about = "Embquery looks up embeddings in embstore table files."

func main() { os.Exit(cli.Main("embquery", about, subcommands())) }

// run runs the command line args in e, as main does (without its signal
// handling): the tests call it.
func run(args []string, e env) int { return cli.Dispatch("embquery", about, subcommands(), args, e) }
