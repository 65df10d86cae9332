#!/usr/bin/env bash
# Measures embquery serve on loopback with wrk, the load generator and the
# server sharing this machine's cores, and prints one JSON line per run and
# the medians per configuration. Configurations alternate within each round,
# so that a neighbour's load hits them alike.
#
#   bench/serve.sh [ROUNDS] [SECONDS]        (defaults: 5 rounds of 5 s)
#
# Needs wrk (Debian: apt-get install wrk) and python3 for the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/embquery" ./cmd/embquery
go build -o "$work/embpack" ./cmd/embpack
go build -o "$work/httpfloor" ./bench/httpfloor
"$work/embpack" init --rows 50257 --dim 256 --seed 123 -o "$work/t.emb" >/dev/null 2>&1

# start NAME CMD...: runs a server that prints "listening on ADDR"; sets $addr.
start() {
	local out="$work/$1.out"
	shift
	"$@" >"$out" 2>"$out.err" &
	pids+=($!)
	for _ in $(seq 100); do
		if addr=$(sed -n 's/^listening on //p' "$out") && [ -n "$addr" ]; then return; fi
		sleep 0.1
	done
	echo "server did not start: $*" >&2
	cat "$out.err" >&2
	exit 1
}
start serve "$work/embquery" serve "$work/t.emb" --addr 127.0.0.1:0 --max-concurrent 256 --log-level warn
serve=$addr
start floor "$work/httpfloor" --size 1024
floor=$addr
start floor8192 "$work/httpfloor" --size $((8192 * 256 * 4))
floor8192=$addr

export WRK_LUA_DIR=bench/wrk TABLE=t ROWS=50257
run() { # NAME ENV... -- WRK-ARGS...
	local name=$1
	shift
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	local line
	line=$(env "${envs[@]}" wrk "$@" | tail -n 1)
	echo "{\"run\": \"$name\", \"round\": $round, ${line#\{}"
}
results="$work/results.jsonl"
for round in $(seq "$rounds"); do
	{
		run floor-batch1 BATCH=1 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$floor"
		run serve-batch1 BATCH=1 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$serve"
		run floor-batch8192 BATCH=8192 -- -t1 -c2 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$floor8192"
		run serve-batch8192 BATCH=8192 -- -t1 -c2 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$serve"
		echo "{\"run\": \"inprocess-batch8192\", \"round\": $round, $("$work/embquery" bench "$work/t.emb" --batch 8192 --threads 2 --seconds "$secs" | sed 's/^{//')"
		run serve-binary16 BATCH=16 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$serve"
		run serve-json16 BATCH=16 ENCODING=float -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_json.lua "http://$serve"
		run serve-base64-16 BATCH=16 ENCODING=base64 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_json.lua "http://$serve"
		run serve-embeddings-64x32 INPUTS=64 IDS=32 -- -t1 -c8 -d"${secs}s" -s bench/wrk/embeddings.lua "http://$serve"
	} | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault(r["run"], []).append(r)
med = lambda rs, k: statistics.median(r[k] for r in rs)
print("\nmedians over %d rounds" % len(next(iter(runs.values()))))
for name, rs in runs.items():
    if name.startswith("inprocess"):
        print("%-24s rows/s %.3g" % (name, med(rs, "rows_per_s")))
        continue
    print("%-24s req/s %9.0f  p50 %.3f ms  p99 %.3f ms  non-2xx %d" % (name, med(rs, "req_per_s"), med(rs, "p50_ms"), med(rs, "p99_ms"), sum(r["non2xx"] for r in rs)))
f, s = runs["floor-batch1"], runs["serve-batch1"]
ratio = [b["req_per_s"] / a["req_per_s"] for a, b in zip(f, s)]
print("batch 1: serve / floor req/s per round %s, median %.2f" % (" ".join("%.2f" % x for x in ratio), statistics.median(ratio)))
print("batch 1: p50 floor/serve %.2f, p99 floor/serve %.2f (above 1: serve slower)" % (
    med(s, "p50_ms") / med(f, "p50_ms"), med(s, "p99_ms") / med(f, "p99_ms")))
b = runs["serve-batch8192"]; i = runs["inprocess-batch8192"]
ratio = [x["req_per_s"] * 8192 / y["rows_per_s"] for x, y in zip(b, i)]
print("batch 8192: serve rows/s %.3g, in-process %.3g, ratio per round %s, median %.2f" % (
    med(b, "req_per_s") * 8192, med(i, "rows_per_s"), " ".join("%.2f" % x for x in ratio), statistics.median(ratio)))
f8 = runs["floor-batch8192"]
ratio = [x["req_per_s"] / y["req_per_s"] for x, y in zip(b, f8)]
print("batch 8192: serve / floor (a fixed 8 MiB body) req/s per round %s, median %.2f; floor %.3g rows/s" % (
    " ".join("%.2f" % x for x in ratio), statistics.median(ratio), med(f8, "req_per_s") * 8192))
j = runs["serve-json16"]; bb = runs["serve-binary16"]; b6 = runs["serve-base64-16"]
print("batch 16: JSON floats %.2f and base64 %.2f of binary req/s" % (
    statistics.median(x["req_per_s"] / y["req_per_s"] for x, y in zip(j, bb)),
    statistics.median(x["req_per_s"] / y["req_per_s"] for x, y in zip(b6, bb))))
PY
