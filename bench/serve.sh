#!/usr/bin/env bash
# Measures embquery serve on loopback, the load generator and the server
# sharing this machine's cores, and prints one JSON line per run and the
# medians per configuration. Configurations alternate within each round,
# so that a neighbour's load hits them alike.
#
#   bench/serve.sh [ROUNDS] [SECONDS]        (defaults: 5 rounds of 5 s)
#
# wrk sends the HTTP load (it has no unix sockets); bench/rowsload, a Go
# service using the client package, measures batch-8192 lookups over TCP and
# over a unix socket (--addr unix:PATH), each beside bench/httpfloor on the
# same transport. EMBQUERY_BASELINE=/path/to/embquery also serves the table
# with another build and measures its batch-16 JSON and binary rates in the
# same rounds (before/after comparisons).
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
go build -o "$work/rowsload" ./bench/rowsload
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
big=$((8192 * 256 * 4))
start serve "$work/embquery" serve "$work/t.emb" --addr 127.0.0.1:0 --max-concurrent 256 --log-level warn
serve=$addr
start serveunix "$work/embquery" serve "$work/t.emb" --addr "unix:$work/serve.sock" --max-concurrent 256 --log-level warn
start floor "$work/httpfloor" --size 1024
floor=$addr
start floor8192 "$work/httpfloor" --size $big
floor8192=$addr
start floor8192unix "$work/httpfloor" --size $big --addr "unix:$work/floor.sock"
baseline=
if [ -n "${EMBQUERY_BASELINE:-}" ]; then
	start baseline "$EMBQUERY_BASELINE" serve "$work/t.emb" --addr 127.0.0.1:0 --max-concurrent 256 --log-level warn
	baseline=$addr
fi

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
rowsload() { # NAME ARGS...
	local name=$1
	shift
	echo "{\"run\": \"$name\", \"round\": $round, $("$work/rowsload" --batch 8192 --conns 2 --seconds "$secs" "$@" | sed 's/^{//')"
}
results="$work/results.jsonl"
for round in $(seq "$rounds"); do
	{
		run floor-batch1 BATCH=1 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$floor"
		run serve-batch1 BATCH=1 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$serve"
		run floor-batch8192 BATCH=8192 -- -t1 -c2 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$floor8192"
		run serve-batch8192 BATCH=8192 -- -t1 -c2 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$serve"
		echo "{\"run\": \"inprocess-batch8192\", \"round\": $round, $("$work/embquery" bench "$work/t.emb" --batch 8192 --threads 2 --seconds "$secs" | sed 's/^{//')"
		rowsload go-tcp-batch8192 --url "http://$serve"
		rowsload go-unix-batch8192 --url "unix://$work/serve.sock"
		rowsload go-floor-tcp-batch8192 --url "http://$floor8192" --floor
		rowsload go-floor-unix-batch8192 --url "unix://$work/floor.sock" --floor
		run serve-binary16 BATCH=16 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$serve"
		run serve-json16 BATCH=16 ENCODING=float -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_json.lua "http://$serve"
		run serve-base64-16 BATCH=16 ENCODING=base64 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_json.lua "http://$serve"
		if [ -n "$baseline" ]; then
			run baseline-binary16 BATCH=16 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$baseline"
			run baseline-json16 BATCH=16 ENCODING=float -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_json.lua "http://$baseline"
		fi
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
per_round = lambda a, b, f: [f(x, y) for x, y in zip(a, b)]
fmt = lambda xs: " ".join("%.2f" % x for x in xs)
print("\nmedians over %d rounds" % len(next(iter(runs.values()))))
for name, rs in runs.items():
    if name.startswith("inprocess"):
        print("%-26s rows/s %.3g" % (name, med(rs, "rows_per_s")))
    elif name.startswith("go-"):
        print("%-26s rows/s %.3g  req/s %6.0f  p50 %.3f ms  p99 %.3f ms" % (name, med(rs, "rows_per_s"), med(rs, "req_per_s"), med(rs, "p50_ms"), med(rs, "p99_ms")))
    else:
        print("%-26s req/s %9.0f  p50 %.3f ms  p99 %.3f ms  non-2xx %d  socket errors %d" % (name, med(rs, "req_per_s"), med(rs, "p50_ms"), med(rs, "p99_ms"), sum(r["non2xx"] for r in rs), sum(r["socket_errors"] for r in rs)))
f, s = runs["floor-batch1"], runs["serve-batch1"]
ratio = per_round(f, s, lambda a, b: b["req_per_s"] / a["req_per_s"])
print("batch 1: serve / floor req/s per round %s, median %.2f" % (fmt(ratio), statistics.median(ratio)))
print("batch 1: p50 floor/serve %.2f, p99 floor/serve %.2f (above 1: serve slower)" % (
    med(s, "p50_ms") / med(f, "p50_ms"), med(s, "p99_ms") / med(f, "p99_ms")))
i = runs["inprocess-batch8192"]
for name, rows in [("serve-batch8192", lambda x: x["req_per_s"] * 8192), ("floor-batch8192", lambda x: x["req_per_s"] * 8192),
                   ("go-tcp-batch8192", lambda x: x["rows_per_s"]), ("go-unix-batch8192", lambda x: x["rows_per_s"]),
                   ("go-floor-tcp-batch8192", lambda x: x["rows_per_s"]), ("go-floor-unix-batch8192", lambda x: x["rows_per_s"])]:
    ratio = per_round(runs[name], i, lambda x, y: rows(x) / y["rows_per_s"])
    print("batch 8192: %-24s %.3g rows/s, / in-process per round %s, median %.2f" % (name, statistics.median(map(rows, runs[name])), fmt(ratio), statistics.median(ratio)))
for a, b in [("serve-batch8192", "floor-batch8192"), ("go-tcp-batch8192", "go-floor-tcp-batch8192"),
             ("go-unix-batch8192", "go-floor-unix-batch8192"), ("go-unix-batch8192", "go-tcp-batch8192"),
             ("go-floor-unix-batch8192", "go-floor-tcp-batch8192")]:
    ratio = per_round(runs[a], runs[b], lambda x, y: x["req_per_s"] / y["req_per_s"])
    print("batch 8192: %s / %s per round %s, median %.2f" % (a, b, fmt(ratio), statistics.median(ratio)))
bb = runs["serve-binary16"]
for name in ["serve-json16", "serve-base64-16"]:
    ratio = per_round(runs[name], bb, lambda x, y: x["req_per_s"] / y["req_per_s"])
    print("batch 16: %s / binary req/s per round %s, median %.2f" % (name, fmt(ratio), statistics.median(ratio)))
if "baseline-json16" in runs:
    ratio = per_round(runs["baseline-json16"], runs["baseline-binary16"], lambda x, y: x["req_per_s"] / y["req_per_s"])
    print("batch 16: baseline JSON / baseline binary per round %s, median %.2f" % (fmt(ratio), statistics.median(ratio)))
    ratio = per_round(runs["serve-json16"], runs["baseline-json16"], lambda x, y: x["req_per_s"] / y["req_per_s"])
    print("batch 16: JSON, this build / baseline per round %s, median %.2f" % (fmt(ratio), statistics.median(ratio)))
PY
