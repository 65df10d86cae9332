#!/usr/bin/env bash
# Tokenizer throughput, single thread, embstore against the npm tokenizers,
# in one run with interleaved rounds (see BENCHMARKS.md, "Tokenizers").
#
#   NODE_MODULES_DIR=DIR bench/tokenizers/run.sh [ROUNDS] > results.jsonl
#
# NODE_MODULES_DIR is a scratch directory (outside the repository) where
#   npm install @huggingface/transformers@4.3.1 tiktoken@1.0.22 js-tiktoken@1.0.21
# was run. Each round runs every implementation once per tokenizer and mode
# (one untimed run, one timed run); summarize.py takes the medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
: "${NODE_MODULES_DIR:?set NODE_MODULES_DIR to the directory holding node_modules}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in gpt2 llama2 llama3 qwen3 bert; do
	mkdir -p "$work/models/$n"
	zstd -q -d testdata/tokenizers/$n/tokenizer.json.zst -o "$work/models/$n/tokenizer.json"
	cp testdata/tokenizers/$n/tokenizer_config.json "$work/models/$n/"
done
corpus=$PWD/testdata/tokenizers/corpus.jsonl
go build -o "$work/gobench" ./bench/tokenizers
cp bench/tokenizers/bench.mjs "$NODE_MODULES_DIR/embstore-bench.mjs"
export GOMAXPROCS=1
for r in $(seq "$rounds"); do
	for n in gpt2 llama2 llama3 qwen3 bert; do
		for mode in one_string per_text; do
			"$work/gobench" -models "$work/models" -corpus "$corpus" -tokenizer "$n" -mode "$mode" -runs 1
			(cd "$NODE_MODULES_DIR" && node embstore-bench.mjs transformers "$n" "$mode" 1 "$corpus" "$work/models")
			if [ "$n" = gpt2 ]; then
				(cd "$NODE_MODULES_DIR" && node embstore-bench.mjs tiktoken gpt2 "$mode" 1 "$corpus" "$work/models")
				(cd "$NODE_MODULES_DIR" && node embstore-bench.mjs js-tiktoken gpt2 "$mode" 1 "$corpus" "$work/models")
			fi
		done
	done
	echo "round $r done" >&2
done
