#!/usr/bin/python3
"""Compare reading a word2vec text file with internal/wordvec and with gensim.

Run by hand (not in CI), with Debian's python3-gensim:

    /usr/bin/python3 bench/compare_wordvec.py [--rows 1000000 --dim 300] [--rounds 3]

It writes (once, kept for later runs) a word2vec text file of --rows random
vectors of --dim values with --decimals decimals (5, as GloVe writes them;
-1 for the shortest decimal, as gensim writes them) with `go run
./bench/wordvec gen`, then alternates, --rounds times, reading it with
`bench/wordvec read` (Go, every --workers count) and with gensim's
KeyedVectors.load_word2vec_format, each in a fresh process. It reports wall
and CPU seconds, MB/s, rows/s and peak RSS (getrusage ru_maxrss) of each,
medians over rounds, the ratios gensim/Go, and checks that both read the same
float32 bits for the first, middle and last rows.

What it measures on the Go side is the reader alone (decompression, parsing,
duplicate check, vocabulary), the part of `embpack import` that this package
does: the table writer comes on top of it.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

GENSIM = r"""
import json, resource, sys, time
import numpy as np
from gensim.models import KeyedVectors
t0 = time.perf_counter()
c0 = time.process_time()
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=False)
wall = time.perf_counter() - t0
cpu = time.process_time() - c0
n = len(kv.index_to_key)
probes = {str(i): [int(x) for x in kv.vectors[i].view(np.uint32)] for i in (0, n // 2, n - 1)}
print(json.dumps({"rows": n, "wall_s": wall, "cpu_s": cpu,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "probes": probes}))
"""


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--decimals", type=int, default=5)
    ap.add_argument("--file", help="the text file (default: in the temp dir, named by its shape)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", default="1,0", help="Go worker counts; 0 is GOMAXPROCS")
    ap.add_argument("--no-gensim", action="store_true")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="wordvec-bench-")
    tool = os.path.join(tmp, "wordvec")
    subprocess.run(["go", "build", "-o", tool, "./bench/wordvec"], cwd=root, check=True)
    path = args.file or os.path.join(tempfile.gettempdir(),
                                     f"embstore-wordvec-{args.rows}x{args.dim}-d{args.decimals}.txt")
    if not os.path.exists(path):
        print(f"writing {path} ...", file=sys.stderr)
        subprocess.run([tool, "gen", "-rows", str(args.rows), "-dim", str(args.dim),
                        "-decimals", str(args.decimals), "-o", path + ".part"], check=True)
        os.rename(path + ".part", path)
    size = os.path.getsize(path)

    results = {}
    workers = [int(w) for w in args.workers.split(",")]
    for r in range(args.rounds):
        for w in workers:
            res = run_json([tool, "read", "-workers", str(w), path])
            results.setdefault(f"go workers={w or res['gomaxprocs']}", []).append(res)
            print(f"round {r}: go workers={w or res['gomaxprocs']}: {res['wall_s']:.2f} s, "
                  f"{res['mb_per_s']:.0f} MB/s, {res['max_rss_mb']:.0f} MB", file=sys.stderr)
        if not args.no_gensim:
            res = run_json(["/usr/bin/python3", "-c", GENSIM, path])
            results.setdefault("gensim", []).append(res)
            print(f"round {r}: gensim: {res['wall_s']:.2f} s, {res['max_rss_mb']:.0f} MB", file=sys.stderr)

    summary = {"file": path, "bytes": size, "rows": args.rows, "dim": args.dim, "decimals": args.decimals,
               "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "sides": {}}
    for name, runs in results.items():
        wall = statistics.median(x["wall_s"] for x in runs)
        summary["sides"][name] = {
            "wall_s": wall,
            "cpu_s": statistics.median(x["cpu_s"] for x in runs),
            "mb_per_s": size / 1e6 / wall,
            "rows_per_s": args.rows / wall,
            "max_rss_mb": statistics.median(x["max_rss_mb"] for x in runs),
            "runs": [x["wall_s"] for x in runs],
        }
    if "gensim" in results:
        g = summary["sides"]["gensim"]
        ref = results["gensim"][0]["probes"]
        for name, runs in results.items():
            if name != "gensim" and runs[0]["probes"] != ref:
                sys.exit(f"{name} reads different vectors from gensim")
        for name, s in summary["sides"].items():
            if name != "gensim":
                s["speedup_vs_gensim"] = g["wall_s"] / s["wall_s"]
                s["memory_vs_gensim"] = s["max_rss_mb"] / g["max_rss_mb"]
        summary["same_vectors"] = True
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
