#!/usr/bin/python3
"""Compare `embpack import` of a word2vec text file with gensim's loader.

Run by hand (not in CI), with Debian's python3-gensim and GNU time:

    /usr/bin/python3 bench/compare_import_wordvec.py [--rows 1000000 --dim 300] [--rounds 3]

It writes (once, kept in the temp dir for later runs; the same file
bench/compare_wordvec.py uses) a word2vec text file of --rows random vectors
of --dim values with 5 decimals, with `go run ./bench/wordvec gen`, then
alternates, --rounds times, in fresh processes under `/usr/bin/time -v`:

  - `embpack import FILE -o TABLE` (every core; the whole import: parsing,
    duplicate check, vocabulary, norms, writing and syncing the table), and
  - gensim 4.2's `KeyedVectors.load_word2vec_format(FILE)` (interpreter
    start and `import gensim` included, as a user waits for them; the load
    alone, timed inside, is reported beside it).

It reports wall seconds, CPU seconds (user + system) and peak RSS ("Maximum
resident set size") of each, medians over rounds, and the ratios. The table
is written next to the text file and removed at the end. That the table holds
gensim's vectors bit for bit is what the tests check
(pack.TestImportWordVectorsGensim); here, the first, middle and last rows of
the table are compared with gensim's too.
"""

import argparse
import json
import os
import platform
import re
import statistics
import struct
import subprocess
import sys
import tempfile

GENSIM = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=False)
load = time.perf_counter() - t0
n = len(kv.index_to_key)
probes = {str(i): [int(x) for x in kv.vectors[i].view(np.uint32)] for i in (0, n // 2, n - 1)}
print(json.dumps({"rows": n, "load_s": load, "probes": probes}))
"""


def timed(cmd):
    """Runs cmd under GNU time -v; returns its stdout and the measures."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {p.stderr[-2000:]}")
    m = {}
    for key, pat in {"user": r"User time \(seconds\): ([\d.]+)", "sys": r"System time \(seconds\): ([\d.]+)",
                     "rss_kb": r"Maximum resident set size \(kbytes\): (\d+)",
                     "wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)"}.items():
        v = re.search(pat, p.stderr).group(1)
        if key == "wall":
            s = 0.0
            for part in v.split(":"):
                s = s * 60 + float(part)
            v = s
        m[key] = float(v)
    return p.stdout, {"wall_s": m["wall"], "cpu_s": m["user"] + m["sys"], "max_rss_mb": m["rss_kb"] / 1024}


def table_rows(path, ids):
    """Reads token rows of an f32 table (format/SPEC.md: rows at byte 40,
    dim at 48, row_stride at 56, section entry 0, the tokens, at 128 with
    its offset at 8 in the entry)."""
    with open(path, "rb") as f:
        head = f.read(4096)
        rows, = struct.unpack_from("<Q", head, 40)
        dim, dtype = struct.unpack_from("<II", head, 48)
        stride, = struct.unpack_from("<Q", head, 56)
        kind, = struct.unpack_from("<I", head, 128)
        off, = struct.unpack_from("<Q", head, 136)
        if kind != 1 or dtype != 1:
            raise SystemExit("not an f32 table")
        out = {}
        for i in ids:
            f.seek(off + i * stride)
            out[str(i)] = list(struct.unpack(f"<{dim}I", f.read(4 * dim)))
        return rows, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--file", help="the text file (default: in the temp dir, named by its shape)")
    ap.add_argument("--no-gensim", action="store_true")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="import-wordvec-bench-")
    embpack = os.path.join(tmp, "embpack")
    gen = os.path.join(tmp, "wordvec")
    subprocess.run(["go", "build", "-o", embpack, "./cmd/embpack"], cwd=root, check=True)
    subprocess.run(["go", "build", "-o", gen, "./bench/wordvec"], cwd=root, check=True)
    path = args.file or os.path.join(tempfile.gettempdir(), f"embstore-wordvec-{args.rows}x{args.dim}-d5.txt")
    if not os.path.exists(path):
        print(f"writing {path} ...", file=sys.stderr)
        subprocess.run([gen, "gen", "-rows", str(args.rows), "-dim", str(args.dim), "-decimals", "5",
                        "-o", path + ".part"], check=True)
        os.rename(path + ".part", path)
    size = os.path.getsize(path)
    table = path + ".emb"

    results = {"embpack import": [], "gensim": []}
    gensim_probes = None
    for r in range(args.rounds):
        _, m = timed([embpack, "import", path, "-o", table, "--force", "--quiet"])
        results["embpack import"].append(m)
        print(f"round {r}: embpack import: {m['wall_s']:.1f} s, {m['cpu_s']:.1f} CPU s, {m['max_rss_mb']:.0f} MB",
              file=sys.stderr)
        if not args.no_gensim:
            out, m = timed(["/usr/bin/python3", "-c", GENSIM, path])
            g = json.loads(out.strip().splitlines()[-1])
            m["load_s"] = g["load_s"]
            gensim_probes = g["probes"]
            results["gensim"].append(m)
            print(f"round {r}: gensim: {m['wall_s']:.1f} s (load {g['load_s']:.1f} s), {m['cpu_s']:.1f} CPU s, "
                  f"{m['max_rss_mb']:.0f} MB", file=sys.stderr)

    summary = {"file": path, "bytes": size, "rows": args.rows, "dim": args.dim,
               "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "sides": {}}
    for name, runs in results.items():
        if not runs:
            continue
        s = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
        s["runs_wall_s"] = [x["wall_s"] for x in runs]
        s["mb_per_s"] = size / 1e6 / s["wall_s"]
        s["rows_per_s"] = args.rows / s["wall_s"]
        summary["sides"][name] = s
    if gensim_probes:
        n = args.rows
        rows, got = table_rows(table, [0, n // 2, n - 1])
        if rows != n or got != gensim_probes:
            sys.exit("the table's rows differ from gensim's vectors")
        summary["same_vectors"] = True
        e, g = summary["sides"]["embpack import"], summary["sides"]["gensim"]
        summary["speedup_wall"] = g["wall_s"] / e["wall_s"]
        summary["speedup_wall_load_only"] = g["load_s"] / e["wall_s"]
        summary["cpu_ratio"] = g["cpu_s"] / e["cpu_s"]
        summary["memory_ratio"] = e["max_rss_mb"] / g["max_rss_mb"]
    os.remove(table)
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
