#!/usr/bin/python3
"""Exact top-k nearest neighbours: store.Table.Nearest against numpy and gensim.

Run by hand (not in CI), with Debian's python3-numpy and python3-gensim:

    /usr/bin/python3 bench/compare_nearest.py [--rows 1000000 --dim 300] [--rounds 5] [--dir DIR]

It writes (once, kept in --dir for later runs; several GB, never in the
repository) tables of --rows x --dim normal(0, 1) values with `embpack init
--seed 1` (torch.nn.Embedding's values): f32, and the same values stored as
f16, bf16 and int8 (--dtype); and a copy of the f32 table with a norms section
(`bench/nearest gen -from ... -norms`). Then, --rounds times, in a fresh
process each and one after the other (side by side, so that a busy machine
slows all of them alike), it times:

- the machine's memory read bandwidth (`bench/nearest bandwidth`: the standard
  library's vector loop over zeroed anonymous memory, and 64-bit loads over the
  table's mapping; the better of the two);
- Go (`bench/nearest query`): top-10 cosine over the f32 table mapped with
  MapPopulate, norms computed in the same pass, for 1 query a pass (Nearest)
  and 64 (NearestBatch), on 1 and 2 threads; and over the copy with a norms
  section (the norms read from it);
- numpy: the matrix normalised once (untimed), then `M @ q` and
  `argpartition` (+ a sort of the top 10) for 1 query, `Q @ M.T` and a row-wise
  argpartition for 64, with OpenBLAS on 1 and 2 threads;
- gensim 4.2: `KeyedVectors.most_similar(positive=[key], topn=10)` on
  KeyedVectors built from the same matrix (norms filled once, untimed), once
  per query: gensim has no batched most_similar, so 64 queries are 64 calls.

Each measurement runs for --time seconds and at least 3 passes, and reports
its median pass; the tables below are medians over the rounds.

Queries are rows of the table (row (7919*i + 13) % rows for query i), as
most_similar of a word. gensim leaves the query's own row out of its results;
the others do not (a difference of one row of work out of a million). Then the
f16, bf16 and int8 tables (Go only). It prints a table of medians
(queries/s, and for one query the pass over the table against the read
bandwidth), and checks that Go, numpy and gensim find the same neighbours for
the first query.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

LOAD = r"""
import numpy as np
def load(path):
    # The table file: 4096-byte header, then the token rows at the offset of
    # section 0, each row_stride bytes (format/SPEC.md).
    h = np.fromfile(path, dtype=np.uint8, count=4096)
    rows = int(h[40:48].view(np.uint64)[0]); dim = int(h[48:52].view(np.uint32)[0])
    dtype = int(h[52:56].view(np.uint32)[0]); stride = int(h[56:64].view(np.uint64)[0])
    off = int(h[136:144].view(np.uint64)[0])
    assert dtype == 1, "numpy and gensim read f32 tables"
    m = np.memmap(path, dtype=np.float32, mode="r", offset=off, shape=(rows, stride // 4))
    return np.ascontiguousarray(m[:, :dim])
def qids(n, rows):
    return [(i * 7919 + 13) % rows for i in range(n)]
"""

NUMPY = LOAD + r"""
import json, sys, time
path, batch, k, min_time = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
m = load(path)
m /= np.linalg.norm(m, axis=1)[:, None]      # normalised once, not timed
ids = qids(64, m.shape[0])
Q = m[ids].copy()
def top(s):
    p = np.argpartition(-s, k)[:k]
    return p[np.argsort(-s[p])]
def one(i):
    return top(m @ Q[i % len(ids)])
def many(_):
    S = Q[:batch] @ m.T                       # batch x rows
    return [top(S[i]) for i in range(batch)]
f = one if batch == 1 else many
f(0)
times = []; t0 = time.perf_counter(); i = 0
while i < 3 or time.perf_counter() - t0 < min_time:
    t = time.perf_counter(); f(i); times.append(time.perf_counter() - t); i += 1
first = top(m @ Q[0])
print(json.dumps({"pass_s": float(np.median(times)), "qps": batch / float(np.median(times)), "pass_times_s": times,
                  "ids": [int(x) for x in first], "scores": [float((m @ Q[0])[x]) for x in first],
                  "numpy": np.__version__}))
"""

GENSIM = LOAD + r"""
import json, sys, time
from gensim.models import KeyedVectors
import gensim
path, batch, k, min_time = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
m = load(path)
kv = KeyedVectors(m.shape[1], count=0, dtype=np.float32)
kv.add_vectors([str(i) for i in range(m.shape[0])], m)
del m
kv.fill_norms()                                # once, not timed
ids = [str(i) for i in qids(64, len(kv))]
def one(i):
    return kv.most_similar(positive=[ids[i % len(ids)]], topn=k)
def many(_):
    return [kv.most_similar(positive=[ids[i]], topn=k) for i in range(batch)]
f = one if batch == 1 else many
f(0)
times = []; t0 = time.perf_counter(); i = 0
while i < 3 or time.perf_counter() - t0 < min_time:
    t = time.perf_counter(); f(i); times.append(time.perf_counter() - t); i += 1
first = kv.most_similar(positive=[ids[0]], topn=k)
print(json.dumps({"pass_s": float(np.median(times)), "qps": batch / float(np.median(times)), "pass_times_s": times,
                  "ids": [int(w) for w, _ in first], "scores": [s for _, s in first], "gensim": gensim.__version__}))
"""


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def py_env(threads):
    env = dict(os.environ)
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(threads)
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--time", type=float, default=3.0, help="seconds each measurement runs, at least")
    ap.add_argument("--dir", default="/tmp/embstore-nearest", help="where the tables are kept")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default="1,64", help="queries a pass")
    ap.add_argument("--dtypes", default="f16,bf16,int8", help="other dtypes timed (Go only); empty for none")
    ap.add_argument("--skip-python", action="store_true", help="Go only")
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(a.dir, exist_ok=True)
    tool = os.path.join(a.dir, "nearest")
    embpack = os.path.join(a.dir, "embpack")
    subprocess.run(["go", "build", "-o", tool, "./bench/nearest"], check=True, cwd=repo)
    subprocess.run(["go", "build", "-o", embpack, "./cmd/embpack"], check=True, cwd=repo)
    tables = {}
    for dt in ("f32", "f16", "bf16", "int8"):
        p = os.path.join(a.dir, f"{dt}-{a.rows}x{a.dim}.emb")
        if not os.path.exists(p):
            print(f"writing {p}", file=sys.stderr)
            subprocess.run([embpack, "init", "--rows", str(a.rows), "--dim", str(a.dim), "--seed", "1",
                            "--dtype", dt, "-q", "-o", p], check=True)
        tables[dt] = p
    p = os.path.join(a.dir, f"f32-norms-{a.rows}x{a.dim}.emb")
    if not os.path.exists(p):
        print(f"writing {p}", file=sys.stderr)
        subprocess.run([tool, "gen", "-from", tables["f32"], "-norms", "-o", p], check=True)
    tables["f32+norms"] = p
    threads = [int(x) for x in a.threads.split(",")]
    batches = [int(x) for x in a.batches.split(",")]
    dtypes = [x for x in a.dtypes.split(",") if x]
    t = str(a.time)
    res = {}

    def add(key, r):
        res.setdefault(key, []).append(r)

    for rnd in range(a.rounds):
        print(f"round {rnd + 1} of {a.rounds}", file=sys.stderr)
        for th in threads:
            add(("bandwidth", th), run_json([tool, "bandwidth", "-threads", str(th), tables["f32"]]))
            for batch in batches:
                for dt in ("f32", "f32+norms"):
                    add(("go", dt, th, batch), run_json([tool, "query", "-threads", str(th), "-batch", str(batch),
                                                         "-k", str(a.k), "-time", t + "s", tables[dt]]))
                if not a.skip_python:
                    args = [tables["f32"], str(batch), str(a.k), t]
                    add(("numpy", th, batch), run_json(["/usr/bin/python3", "-c", NUMPY] + args, env=py_env(th)))
                    add(("gensim", th, batch), run_json(["/usr/bin/python3", "-c", GENSIM] + args, env=py_env(th)))
            for dt in dtypes:
                for batch in batches:
                    add(("go", dt, th, batch), run_json([tool, "query", "-threads", str(th), "-batch", str(batch),
                                                          "-k", str(a.k), "-time", t + "s", tables[dt]]))

    med = lambda key, f: statistics.median(r[f] for r in res[key])
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"{a.rows} x {a.dim}, top {a.k} cosine; medians of {a.rounds} rounds\n")
    print("| threads | queries a pass | Go q/s | Go, norms section, q/s | numpy q/s | gensim q/s | Go / numpy | Go / gensim |")
    print("|---|---|---|---|---|---|---|---|")
    for th in threads:
        for batch in batches:
            g = med(("go", "f32", th, batch), "qps")
            gn = med(("go", "f32+norms", th, batch), "qps")
            if a.skip_python:
                print(f"| {th} | {batch} | {g:.1f} | {gn:.1f} | | | | |")
                continue
            n = med(("numpy", th, batch), "qps")
            s = med(("gensim", th, batch), "qps")
            print(f"| {th} | {batch} | {g:.1f} | {gn:.1f} | {n:.1f} | {s:.1f} | {g / n:.2f}x | {g / s:.2f}x |")
    print("\n| threads | read bandwidth GB/s | one pass over the f32 rows at that speed, ms | Go, 1 query, ms (GB/s) | ratio |")
    print("|---|---|---|---|---|")
    size = a.rows * a.dim * 4
    for th in threads:
        bw = med(("bandwidth", th), "read_gb_per_s")
        floor = size / bw / 1e6
        got = med(("go", "f32", th, 1), "pass_s") * 1e3
        gbs = med(("go", "f32", th, 1), "gb_per_s")
        print(f"| {th} | {bw:.1f} | {floor:.1f} | {got:.1f} ({gbs:.1f}) | {got / floor:.2f}x |")
    print("\n| dtype | threads | 1 query q/s | GB/s of rows | 64 queries q/s | vs f32 (1 / 64) |")
    print("|---|---|---|---|---|---|")
    for dt in ["f32"] + dtypes if batches == [1, 64] else []:
        for th in threads:
            one, many = med(("go", dt, th, 1), "qps"), med(("go", dt, th, 64), "qps")
            f1, f64 = med(("go", "f32", th, 1), "qps"), med(("go", "f32", th, 64), "qps")
            print(f"| {dt} | {th} | {one:.1f} | {med(('go', dt, th, 1), 'gb_per_s'):.1f} | {many:.1f} | "
                  f"{one / f1:.2f}x / {many / f64:.2f}x |")
    if not a.skip_python:
        g = res[("go", "f32", threads[0], 1)][0]
        n = res[("numpy", threads[0], 1)][0]
        s = res[("gensim", threads[0], 1)][0]
        print("\nfirst query's neighbours: Go", g["ids"], "\n  numpy", n["ids"], "\n  gensim", s["ids"],
              "(without the query's own row)")
        same = g["ids"] == n["ids"] and g["ids"][1:] == s["ids"][:len(g["ids"]) - 1]
        print("same neighbours, same order:", same)
        print("numpy", n.get("numpy"), "gensim", s.get("gensim"))
    with open(os.path.join(a.dir, "results.json"), "w") as f:
        json.dump({" ".join(map(str, k)): v for k, v in res.items()}, f)


if __name__ == "__main__":
    main()
