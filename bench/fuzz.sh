#!/usr/bin/env bash
# Fuzz every fuzz target of the repository, one after another, and report how
# many inputs each one executed.
#
#   bench/fuzz.sh [-time D] [-slow D] [-minimize D] [-min-execs N] [-grow] [-max-size B] [-list] [NAME_REGEXP]
#
#   -time D        how long to fuzz each target (default 5m; CI uses a few seconds)
#   -slow D        a target that executed nothing, or fewer than -min-execs,
#                  in -time (its setup and the baseline over its corpus took
#                  most of it: FuzzTokenizerEncode loads large tokenizers in
#                  every worker) is run once more for D (default 30s)
#   -minimize D    -fuzzminimizetime: how long to spend minimising each new
#                  input (default 10x, ten runs: go test's own default, 60s,
#                  is longer than a short run and stalls it)
#   -min-execs N   fail if a target executed fewer than N inputs (default 0)
#   -grow          copy the new inputs the run found into testdata/fuzz, where
#                  the tests read their seed corpus (see below)
#   -max-size B    with -grow, leave out inputs larger than B bytes (default
#                  16384: the repository keeps small seeds)
#   -list          only print the targets, as package:Name
#   NAME_REGEXP    only fuzz targets whose name matches (default: all)
#
# Targets are discovered, not listed here: every package with a test file that
# declares `func Fuzz...`, asked with `go test -list '^Fuzz'`, so a new target
# in a new package is fuzzed without editing this script or .ci/run.
#
# Long runs ("long runs are separate" in .ci/run) are this script with a long
# -time and -grow, by hand, on an otherwise idle machine:
#
#   bench/fuzz.sh -time 10m -grow && git status testdata/fuzz '*/testdata/fuzz'
#
# go test keeps the inputs a run finds interesting (new coverage) in its
# cache, $(go env GOCACHE)/fuzz/<import path>/<Name>; -grow copies those this
# run created to the target's seed corpus: testdata/fuzz/<Name> at the
# repository root for targets that load it through internal/testing/fuzzcorpus (they
# name it in their test files), otherwise <package>/testdata/fuzz/<Name>, which
# go test reads by itself. Then it runs the targets' seeds once as ordinary
# tests. Review and commit what it added. An input that makes a target fail is
# written by go test to <package>/testdata/fuzz/<Name> and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

fuzztime=5m slow=30s minimize=10x min_execs=0 grow=0 max_size=16384 list_only=0 filter=.
while [ $# -gt 0 ]; do
	case "$1" in
	-time) fuzztime=$2; shift 2 ;;
	-slow) slow=$2; shift 2 ;;
	-minimize) minimize=$2; shift 2 ;;
	-min-execs) min_execs=$2; shift 2 ;;
	-grow) grow=1; shift ;;
	-max-size) max_size=$2; shift 2 ;;
	-list) list_only=1; shift ;;
	-h | -help | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
	*) filter=$1; shift ;;
	esac
done

# Packages with a fuzz target: test files (committed or not, not ignored)
# that declare one, outside testdata and outside directories that go ignores
# (kernel/_generate is a separate module).
pkgs=$(git ls-files -co --exclude-standard -- '*_test.go' |
	grep -Ev '(^|/)(testdata|_[^/]*|\.[^/]*)/' |
	xargs -r grep -l '^func Fuzz[A-Z0-9_]' |
	xargs -r -n1 dirname | sort -u)
targets=()
for dir in $pkgs; do
	if ! listed=$(go test -list '^Fuzz' "./$dir" 2>&1); then
		echo "$listed" >&2
		echo "fuzz.sh: cannot list the fuzz targets of ./$dir" >&2
		exit 1
	fi
	for name in $(grep '^Fuzz' <<<"$listed" || true); do
		if [[ $name =~ $filter ]]; then
			targets+=("$dir:$name")
		fi
	done
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz target matches $filter" >&2
	exit 1
fi
if [ $list_only = 1 ]; then
	printf '%s\n' "${targets[@]}"
	exit 0
fi

cache=$(go env GOCACHE)/fuzz
marker=$(mktemp)
log=$(mktemp)
trap 'rm -f "$marker" "$log"' EXIT
summary=()
failed=()
grown=0 too_big=0
# fuzz runs one target for a time and sets status, execs and last (the last
# progress line, which holds the totals: "fuzz: elapsed: 5s, execs: 328425
# (68332/sec), new interesting: 33 (total: 251)").
fuzz() {
	status=0
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$3" -fuzzminimizetime "$minimize" "./$1" >"$log" 2>&1 || status=$?
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+) .*/\1/p' <<<"$last")
	execs=${execs:-0}
}

# deadline_race reports whether the last run failed only because Go's fuzz
# coordinator raced its own -fuzztime deadline: the one failure line is
# "context deadline exceeded" and no failing input was written.
deadline_race() {
	grep -qx '    context deadline exceeded' "$log" &&
		! grep -q 'Failing input written to' "$log" &&
		[ "$(grep -c -- '--- FAIL' "$log")" -eq 1 ]
}

for target in "${targets[@]}"; do
	dir=${target%%:*} name=${target#*:}
	echo "== $dir $name (fuzz $fuzztime)"
	touch "$marker"
	fuzz "$dir" "$name" "$fuzztime"
	if [ $status -eq 0 ] && { [ "$execs" -eq 0 ] || [ "$execs" -lt "$min_execs" ]; }; then
		echo "   $execs executions in $fuzztime (setup and the baseline over the corpus took most of it): again for $slow"
		fuzz "$dir" "$name" "$slow"
	fi
	# Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as
	# a failure ("context deadline exceeded", no failing input written):
	# golang/go#75804, fixed in Go 1.27. That is not a finding; run the
	# target once more. A real failure writes its input and says so.
	if [ $status -ne 0 ] && deadline_race; then
		echo "   go test stopped on its own deadline with no failing input (golang/go#75804): again"
		fuzz "$dir" "$name" "$fuzztime"
		if [ $status -ne 0 ] && deadline_race; then
			echo "   the same again: counted as a run, not a failure"
			status=0
		fi
	fi
	# elapsed is a Go duration such as 5s or 1m30s: the mean rate over it.
	elapsed=$(sed -nE 's/^fuzz: elapsed: ([0-9hms]+),.*/\1/p' <<<"$last")
	secs=0
	while [[ $elapsed =~ ^([0-9]+)([hms])(.*)$ ]]; do
		case ${BASH_REMATCH[2]} in
		h) secs=$((secs + 3600 * BASH_REMATCH[1])) ;;
		m) secs=$((secs + 60 * BASH_REMATCH[1])) ;;
		s) secs=$((secs + BASH_REMATCH[1])) ;;
		esac
		elapsed=${BASH_REMATCH[3]}
	done
	rate=$((execs / (secs > 0 ? secs : 1)))
	newin=$(sed -nE 's/.*new interesting: ([0-9]+) .*/\1/p' <<<"$last")
	newin=${newin:-0}
	if [ $status -ne 0 ]; then
		tail -n 40 "$log"
		failed+=("$target (go test failed)")
	elif [ "$execs" -lt "$min_execs" ]; then
		tail -n 10 "$log"
		failed+=("$target ($execs executions, fewer than $min_execs)")
	fi
	echo "   $execs executions ($rate/s), $newin new interesting inputs"
	summary+=("$(printf '%-28s %-22s %12s %10s %6s' "$name" "$dir" "$execs" "$rate" "$newin")")

	if [ $grow = 1 ]; then
		importpath=$(go list "./$dir")
		src=$cache/$importpath/$name
		# Targets that read the root corpus name it in their test files.
		if grep -qs -- "\"$name\"" "$dir"/*_test.go; then
			dst=testdata/fuzz/$name
		else
			dst=$dir/testdata/fuzz/$name
		fi
		if [ -d "$src" ]; then
			mkdir -p "$dst"
			while IFS= read -r -d '' f; do
				if [ "$(stat -c %s "$f")" -gt "$max_size" ]; then
					too_big=$((too_big + 1))
				elif [ ! -e "$dst/$(basename "$f")" ]; then
					cp "$f" "$dst/"
					grown=$((grown + 1))
				fi
			done < <(find "$src" -type f -newer "$marker" -print0)
		fi
	fi
done

echo
printf '%-28s %-22s %12s %10s %6s\n' target package executions "per s" new
printf '%s\n' "${summary[@]}"
if [ $grow = 1 ]; then
	echo "added $grown inputs to the seed corpora (left out $too_big larger than $max_size bytes); running every target's seeds"
	for dir in $(printf '%s\n' "${targets[@]}" | cut -d: -f1 | sort -u); do
		names=$(printf '%s\n' "${targets[@]}" | grep "^$dir:" | cut -d: -f2 | paste -sd '|')
		go test -count=1 -run "^($names)\$" "./$dir" || failed+=("$dir seeds")
	done
fi
if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
