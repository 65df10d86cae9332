// Command tokenizers times embstore's tokenizer on the reference corpus, the
// Go side of bench/tokenizers/run.sh (see BENCHMARKS.md, "Tokenizers").
//
//	go run ./bench/tokenizers -models DIR -corpus corpus.jsonl -tokenizer gpt2 -mode one_string -runs 1
//
// It prints one JSON line per timed run: {"impl", "tokenizer", "mode", "bytes", "seconds"}.
// one_string: the corpus texts joined with "\n", that string repeated 20
// times joined with "\n", encoded in one call; per_text: every text encoded
// by its own call, the whole corpus 20 times over. One untimed run first.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/embstore/embstore/tokenizer"
)

func main() {
	models := flag.String("models", "", "directory holding NAME/tokenizer.json")
	corpus := flag.String("corpus", "", "corpus.jsonl")
	name := flag.String("tokenizer", "gpt2", "tokenizer name")
	mode := flag.String("mode", "one_string", "one_string or per_text")
	runs := flag.Int("runs", 1, "timed runs")
	flag.Parse()
	if err := run(*models, *corpus, *name, *mode, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "tokenizers:", err)
		os.Exit(1)
	}
}

func run(models, corpus, name, mode string, runs int) error {
	data, err := os.ReadFile(filepath.Join(models, name, "tokenizer.json"))
	if err != nil {
		return err
	}
	tk, err := tokenizer.Load(data)
	if err != nil {
		return err
	}
	f, err := os.Open(corpus)
	if err != nil {
		return err
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s string
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return err
		}
		texts = append(texts, s)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var work func() int
	var ids []int64
	switch mode {
	case "one_string":
		joined := strings.Join(texts, "\n")
		rep := make([]string, 20)
		for i := range rep {
			rep[i] = joined
		}
		one := strings.Join(rep, "\n")
		work = func() int { ids = tk.Encode(ids[:0], one, false); return len(one) }
	case "per_text":
		work = func() int {
			n := 0
			for range 20 {
				for _, s := range texts {
					ids = tk.Encode(ids[:0], s, false)
					n += len(s)
				}
			}
			return n
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	work()
	for range runs {
		start := time.Now()
		n := work()
		sec := time.Since(start).Seconds()
		line, _ := json.Marshal(map[string]any{"impl": "embstore", "tokenizer": name, "mode": mode, "bytes": n, "seconds": sec})
		fmt.Println(string(line))
	}
	return nil
}
