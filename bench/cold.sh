#!/usr/bin/env bash
# Measures lookups from a table four times larger than the memory the process
# may use: a cgroup v1 memory cgroup limits the benchmark (page cache
# included) to LIMIT, and bench/cold (the store library's lookup path) looks
# up batches of ids drawn uniformly and from a Zipf distribution (s = 1.05),
# in each map mode, with and without prefetch and hot-row locking, and once
# with the whole table in RAM (no limit, table read first) as the baseline.
# Each run starts cold (the file's pages dropped with posix_fadvise
# DONTNEED), fills the page cache for WARMUP seconds (through a second table
# opened with --map-mode random and --prefetch, the fastest way to the
# steady state), then measures for SECONDS. Prints one JSON line per run and a
# Markdown table of the medians. A round takes about 8 minutes.
#
#   sudo bench/cold.sh [ROUNDS] [SECONDS] [WARMUP]     (defaults: 1 round, 10 s, 6 s)
#
# Zipf ids are ranks scattered over the table (rank r is row r*a mod rows),
# as hashed ids are; zipf-packed runs put rank r at row r, as a vocabulary
# sorted by frequency does. CONFIGS=core skips the modes with read-ahead
# (lazy, populate, hugepages) and anon-hugepages, which the cgroup kills.
#
# Environment: ROWS (default 2097152) x DIM (default 256) f32 rows make the
# table (2 GiB), LIMIT (default 512M) the cgroup's limit, BATCH (256) the ids
# per batch, LOCK_HOT (32768) the rows --lock-hot learns, TMPDIR where the
# table goes (on a real disk, not tmpfs). Needs root and cgroup v1's memory
# controller at /sys/fs/cgroup/memory. Everything it makes (the table, the
# cgroup) is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
secs=${2:-10}
warmup=${3:-6}
rows=${ROWS:-2097152}
dim=${DIM:-256}
limit=${LIMIT:-512M}
batch=${BATCH:-256}
lockhot=${LOCK_HOT:-32768}
configs=${CONFIGS:-all}
cgroot=/sys/fs/cgroup/memory
if [ "$(id -u)" != 0 ] || [ ! -w "$cgroot" ]; then
	echo "cold.sh: needs root and a writable cgroup v1 memory controller at $cgroot" >&2
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/embstore-cold.XXXXXX")
cg="$cgroot/embstore-cold-$$"
cleanup() {
	if [ -d "$cg" ]; then
		echo 0 >"$cg/memory.force_empty" 2>/dev/null || true
		rmdir "$cg" || echo "cold.sh: could not remove cgroup $cg" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/embpack" ./cmd/embpack
go build -o "$work/cold" ./bench/cold
table="$work/t.emb"
"$work/embpack" init --rows "$rows" --dim "$dim" --seed 7 --init uniform -q -o "$table"
sync "$table"
mkdir "$cg"
echo "$limit" >"$cg/memory.limit_in_bytes"

results="$work/results.jsonl"
# run LABEL CGROUP(0|1) ARGS...: one run; a run the cgroup's OOM killer ends
# (a map mode that copies the table into memory) is recorded as such.
run() {
	local label=$1 incg=$2
	shift 2
	local line
	if [ "$incg" = 1 ]; then
		line=$(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
			"$work/cold" --table "$table" --label "$label" --cold --warmup "$warmup" --seconds "$secs" --batch "$batch" "$@") ||
			line="{\"label\": \"$label\", \"args\": \"$*\", \"failed\": \"exit $? (137: killed by the cgroup's OOM killer)\"}"
	else
		line=$("$work/cold" --table "$table" --label "$label" --warm --seconds "$secs" --batch "$batch" "$@")
	fi
	echo "$line" | tee -a "$results"
}
for round in $(seq "$rounds"); do
	for dist in zipf uniform; do
		run ram 0 --dist $dist --map-mode populate
		modes="lazy populate random hugepages anon-hugepages"
		[ "$configs" = core ] && modes=random
		for mode in $modes; do
			run "$mode" 1 --dist $dist --map-mode $mode
		done
		run random+prefetch 1 --dist $dist --map-mode random --prefetch
		run lazy+prefetch 1 --dist $dist --map-mode lazy --prefetch
		run random+lock-hot 1 --dist $dist --map-mode random --lock-hot "$lockhot"
		run random+prefetch+lock-hot 1 --dist $dist --map-mode random --prefetch --lock-hot "$lockhot"
	done
	run ram 0 --dist zipf-packed --map-mode populate
	run random 1 --dist zipf-packed --map-mode random
	run random+prefetch 1 --dist zipf-packed --map-mode random --prefetch
done
echo
grep -v '"failed"' "$results" >"$results.ok" || true
"$work/cold" summarize "$results.ok"
grep '"failed"' "$results" || true
