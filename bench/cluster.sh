#!/usr/bin/env bash
# A cluster on loopback, measured: a 3-member etcd, a table split into 2
# shards (each served by embquery serve --etcd), embquery route in front,
# and beside them one embquery serve of the whole table. wrk sends the same
# binary lookups to the single server and to the router; the router's
# overhead is the difference. Everything shares this machine's cores (the
# router's work competes with the servers' and wrk's), and configurations
# alternate within each round. Prints one JSON line per run and the medians.
#
#   bench/cluster.sh [ROUNDS] [SECONDS]        (defaults: 5 rounds of 5 s)
#
# Needs etcd (Debian: apt-get install etcd-server), wrk and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/embquery" ./cmd/embquery
go build -o "$work/embpack" ./cmd/embpack
"$work/embpack" init --rows 50257 --dim 256 --seed 123 -o "$work/t.emb" -q
"$work/embpack" shard "$work/t.emb" --shards 2 -o "$work/shards" -q

# Three etcd members on free ports.
ports=$(python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r c0 p0 c1 p1 c2 p2 <<<"$ports"
initial="m0=http://127.0.0.1:$p0,m1=http://127.0.0.1:$p1,m2=http://127.0.0.1:$p2"
for i in 0 1 2; do
	c=$(eval echo "\$c$i"); p=$(eval echo "\$p$i")
	etcd --name "m$i" --data-dir "$work/etcd$i" --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
		--listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "$initial" \
		--initial-cluster-state new --logger zap --log-level error >"$work/etcd$i.log" 2>&1 &
	pids+=($!)
done
endpoints="http://127.0.0.1:$c0,http://127.0.0.1:$c1,http://127.0.0.1:$c2"
for _ in $(seq 100); do
	if curl -sf "http://127.0.0.1:$c0/health" | grep -q true; then break; fi
	sleep 0.1
done

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
common=(--addr 127.0.0.1:0 --max-concurrent 256 --log-level warn)
start single "$work/embquery" serve "$work/t.emb" "${common[@]}"
single=$addr
for s in 0 1; do
	start "shard$s" "$work/embquery" serve "$work/shards/t-v1-0000$s-of-00002.emb" "${common[@]}" --etcd "$endpoints"
done
start router "$work/embquery" route --etcd "$endpoints" --table t "${common[@]}"
router=$addr
for _ in $(seq 100); do
	if curl -sf "http://$router/v1/tables/t" >/dev/null; then break; fi
	sleep 0.1
done

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
		run single-batch1 BATCH=1 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$single"
		run router-batch1 BATCH=1 -- -t1 -c8 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$router"
		run single-batch512 BATCH=512 -- -t1 -c4 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$single"
		run router-batch512 BATCH=512 -- -t1 -c4 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$router"
		run single-batch8192 BATCH=8192 -- -t1 -c2 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$single"
		run router-batch8192 BATCH=8192 -- -t1 -c2 -d"${secs}s" -s bench/wrk/lookup_binary.lua "http://$router"
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
for batch in (1, 512, 8192):
    s, r = runs["single-batch%d" % batch], runs["router-batch%d" % batch]
    for name, rs in (("single", s), ("router", r)):
        print("batch %-5d %-7s rows/s %10.4g  req/s %8.0f  p50 %7.3f ms  p99 %7.3f ms  non-2xx %d" % (
            batch, name, med(rs, "req_per_s") * batch, med(rs, "req_per_s"), med(rs, "p50_ms"), med(rs, "p99_ms"),
            sum(x["non2xx"] + x["socket_errors"] for x in rs)))
    ratio = [b["req_per_s"] / a["req_per_s"] for a, b in zip(s, r)]
    print("batch %-5d router / single rows/s per round %s, median %.2f; p99 router / single %.2f" % (
        batch, " ".join("%.2f" % x for x in ratio), statistics.median(ratio), med(r, "p99_ms") / med(s, "p99_ms")))
PY
