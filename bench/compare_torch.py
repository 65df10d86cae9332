#!/usr/bin/env python3
"""Compare embstore with PyTorch on the same table, ids, threads and outputs.

Run by hand (not in CI), with a Python that has torch and numpy:

    python3 bench/compare_torch.py [--threads 1,2] [--rows 50257 --dim 768]

Both sides get the same table: torch draws it with torch.manual_seed(seed)
and nn.Embedding (token table, then a positional table), and embstore draws it
with `embpack init`, which is bit-identical (the script checks the hashes).
torch keeps its table in RAM, as users hold it; embstore maps its file. Both
use the same ids (uniform random, written to a file), the same thread count
(torch.set_num_threads and `embquery bench --threads`, plus OMP_NUM_THREADS and
GOMAXPROCS) and preallocated outputs where torch allows it. The two sides
alternate in --rounds rounds (so that a noisy neighbour slows both); each
round takes the median batch time of each side, and the result is the median
over rounds. Ratios are torch median time over embstore median time (above 1:
embstore is faster); the per-round ratios are kept in the JSON.

Workloads, batch 8192:
  gather      torch.index_select(W, 0, ids, out=o)
  gather+pos  torch.add(F.embedding(ids, W), F.embedding(pos, P), out=o)
              (pos: the batch as sequences as long as the positional table)
  bag mean    F.embedding_bag(ids, W, offsets, mode="mean"), 256 bags of 32
It also checks that both sides return the same values (bit for bit for the
gathers, within 1e-5 relative for bag mean, whose summation order may differ).

Seeded initialisation (--init-dims, default 768,256; --init-rounds rounds):
  torch     torch.manual_seed(seed); torch.nn.Embedding(rows, dim) in a fresh
            Python process (ATEN_CPU_CAPABILITY=default for the scalar math
            path), timed inside it, import excluded: the first call (which
            also faults in the new tensor's memory) and a second one
  embstore  `embpack init --rows R --dim D --seed S --torch-math PATH`, the
            whole process timed from outside: start, draw, write the file,
            fsync, rename
on both math paths, checking once per shape and path that the tables are
equal. --init-dir puts embstore's table elsewhere (e.g. on a tmpfs, to
leave the disk out). Ratios are torch median time over embstore median time (above 1:
embstore is faster), against torch's first and its second call. The CPU
time (user + system) each side used is reported next to them: on a shared
machine it is what noisy neighbours disturb least.
--init-only runs only this comparison, --no-init skips it.
"""

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def find_binaries(args, tmp):
    if args.embpack and args.embquery:
        return args.embpack, args.embquery
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    for name in ("embpack", "embquery"):
        path = os.path.join(tmp, name)
        run(["go", "build", "-o", path, "./cmd/" + name], cwd=root)
        out[name] = path
    return out["embpack"], out["embquery"]


def median_ns(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)]


def embstore_bench(embquery, table, ids_file, threads, seconds, map_mode, extra):
    env = dict(os.environ, GOMAXPROCS=str(max(threads, 1)))
    out = run([embquery, "bench", table, "--batch", "8192", "--threads", str(threads), "--map-mode", map_mode,
               "--ids", ids_file, "--seconds", str(seconds)] + extra, env=env).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50257)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--positions", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=30, help="torch batches timed per round")
    ap.add_argument("--seconds", type=float, default=1, help="embquery bench time per round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds alternating the two sides")
    ap.add_argument("--embpack", help="prebuilt embpack binary (default: go build)")
    ap.add_argument("--embquery", help="prebuilt embquery binary (default: go build)")
    ap.add_argument("--map-mode", default="lazy",
                    help="embstore mapping (embquery bench --map-mode): lazy, populate, hugepages, anon-hugepages")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--init-dims", default="768,256", help="table widths of the init comparison (rows: --rows)")
    ap.add_argument("--init-rounds", type=int, default=7, help="rounds alternating the two sides in the init comparison")
    ap.add_argument("--init-dir", help="directory embpack init writes its tables to (default: a temporary directory)")
    ap.add_argument("--init-only", action="store_true", help="run only the init comparison")
    ap.add_argument("--no-init", action="store_true", help="skip the init comparison")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="embstore-vs-torch-")
    try:
        embpack, embquery = find_binaries(args, tmp)
        results = {"torch": torch.__version__, "torch_capability": capability(), "map_mode": args.map_mode,
                   "fbgemm": "fbgemm" in torch.backends.quantized.supported_engines,
                   "cpu": cpu_name(), "rows": args.rows, "dim": args.dim, "batch": 8192, "runs": [], "init": []}
        if not args.no_init:
            compare_init(args, embpack, embquery, tmp, results)
            print_init(results)
        if args.init_only:
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=2)
            return
        table = os.path.join(tmp, "table.emb")
        run([embpack, "init", "--rows", str(args.rows), "--dim", str(args.dim), "--seed", str(args.seed),
             "--positions", str(args.positions), "-o", table, "-q"])

        torch.manual_seed(args.seed)
        W = torch.nn.Embedding(args.rows, args.dim).weight.detach().contiguous()
        P = torch.nn.Embedding(args.positions, args.dim).weight.detach().contiguous()
        want = hashlib.sha256(W.numpy().astype("<f4").tobytes()).hexdigest()
        got = hashlib.sha256(run(f"seq 0 {args.rows - 1} | {embquery} lookup {table} --format raw",
                                 shell=True).stdout).hexdigest()
        if got != want:
            sys.exit(f"tables differ: torch {want}, embstore {got} (torch capability {capability()})")

        rng = np.random.default_rng(1)
        ids_np = rng.integers(0, args.rows, size=8192, dtype=np.int64)
        ids_file = os.path.join(tmp, "ids.txt")
        np.savetxt(ids_file, ids_np, fmt="%d")
        ids = torch.from_numpy(ids_np)
        seq = min(args.positions, 8192)
        pos = torch.arange(seq, dtype=torch.int64).repeat(8192 // seq)
        offsets = torch.arange(0, 8192, 32, dtype=torch.int64)

        check_values(embquery, table, ids_np, W, P, seq, offsets)

        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            os.environ["OMP_NUM_THREADS"] = str(threads)
            o = torch.empty(8192, args.dim)
            workloads = [
                ("gather", lambda: torch.index_select(W, 0, ids, out=o), []),
                ("gather+pos", lambda: torch.add(F.embedding(ids, W), F.embedding(pos, P), out=o), ["--positions"]),
                ("bag mean", lambda: F.embedding_bag(ids, W, offsets, mode="mean"),
                 ["--mode", "bag", "--bag-size", "32", "--bag-mode", "mean"]),
            ]
            for name, fn, extra in workloads:
                # Interleave the two sides in rounds, so that a noisy
                # neighbour slows both, and take medians over rounds.
                t50s, t99s, e50s, e99s = [], [], [], []
                for _ in range(args.rounds):
                    t50, t99 = median_ns(fn, args.reps, 5)
                    e = embstore_bench(embquery, table, ids_file, threads, args.seconds, args.map_mode, extra)
                    t50s.append(t50 / 1e6)
                    t99s.append(t99 / 1e6)
                    e50s.append(e["p50_ms"])
                    e99s.append(e["p99_ms"])
                t50, e50 = float(np.median(t50s)), float(np.median(e50s))
                results["runs"].append({
                    "threads": threads, "workload": name, "rounds": args.rounds,
                    "torch_p50_ms": t50, "torch_p99_ms": float(np.median(t99s)),
                    "torch_rows_per_s": 8192 / (t50 / 1e3),
                    "embstore_p50_ms": e50, "embstore_p99_ms": float(np.median(e99s)),
                    "embstore_rows_per_s": 8192 / (e50 / 1e3),
                    "ratio": t50 / e50,
                    "round_ratios": [a / b for a, b in zip(t50s, e50s)],
                })
        print_table(results)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# TORCH_INIT runs in a fresh Python process: it times torch's seeded
# initialisation of one table, twice, and prints the times and the table's
# SHA-256 (float32, little-endian) as JSON.
TORCH_INIT = r"""
import hashlib, json, sys, time
import torch
rows, dim, seed, threads, want_hash = (int(a) for a in sys.argv[1:6])
torch.set_num_threads(threads)
times, cpu = [], []
for _ in range(2):
    torch.manual_seed(seed)
    c0, t0 = time.process_time_ns(), time.perf_counter_ns()
    w = torch.nn.Embedding(rows, dim).weight
    times.append(time.perf_counter_ns() - t0)
    cpu.append(time.process_time_ns() - c0)
    if want_hash and len(times) == 1:
        h = hashlib.sha256(w.detach().numpy().astype("<f4").tobytes()).hexdigest()
    del w
try:
    cap = torch.backends.cpu.get_cpu_capability()
except AttributeError:  # torch < 2.0: "CPU capability usage: AVX2" (or "NO AVX")
    cap = [l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability" in l][0]
    cap = "DEFAULT" if cap == "NO AVX" else cap
print(json.dumps({"first_ns": times[0], "second_ns": times[1], "first_cpu_ns": cpu[0], "second_cpu_ns": cpu[1],
                  "capability": cap,
                  "sha256": h if want_hash else None}))
"""


def torch_init(rows, dim, seed, threads, path, want_hash=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if path == "default":
        env["ATEN_CPU_CAPABILITY"] = "default"
    else:
        env.pop("ATEN_CPU_CAPABILITY", None)
    out = run([sys.executable, "-c", TORCH_INIT, str(rows), str(dim), str(seed), str(threads), str(int(want_hash))],
              env=env).stdout
    return json.loads(out)


def embpack_init(embpack, out, rows, dim, seed, threads, path):
    """Runs embpack init; returns its wall time and its CPU time (user + system), in ns."""
    env = dict(os.environ, GOMAXPROCS=str(max(threads, 1)))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter_ns()
    run([embpack, "init", "--rows", str(rows), "--dim", str(dim), "--seed", str(seed), "--torch-math", path,
         "-q", "-o", out], env=env)
    wall = time.perf_counter_ns() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, int(((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1e9)


def compare_init(args, embpack, embquery, tmp, results):
    """Seeded initialisation: torch's nn.Embedding against embpack init."""
    out = os.path.join(args.init_dir or tmp, f"embstore-init-{os.getpid()}.emb")
    for dim in [int(d) for d in args.init_dims.split(",")]:
        for path in ("avx2", "default"):
            ref = torch_init(args.rows, dim, args.seed, 1, path, want_hash=True)
            # torch takes the AVX2 normal kernel on AVX-512 machines too.
            if (ref["capability"].lower() == "default") != (path == "default"):
                sys.exit(f"torch ran with CPU capability {ref['capability']} for the {path} path: "
                         "the comparison needs a CPU with AVX2")
            embpack_init(embpack, out, args.rows, dim, args.seed, 1, path)
            got = hashlib.sha256(run(f"seq 0 {args.rows - 1} | {embquery} lookup {out} --format raw",
                                     shell=True).stdout).hexdigest()
            if got != ref["sha256"]:
                sys.exit(f"init {args.rows}x{dim} {path}: tables differ: torch {ref['sha256']}, embstore {got}")
            for threads in [int(t) for t in args.threads.split(",")]:
                firsts, seconds, ours, cpu1, cpu2, ourcpu = [], [], [], [], [], []
                for _ in range(args.init_rounds):
                    r = torch_init(args.rows, dim, args.seed, threads, path)
                    firsts.append(r["first_ns"] / 1e6)
                    seconds.append(r["second_ns"] / 1e6)
                    cpu1.append(r["first_cpu_ns"] / 1e6)
                    cpu2.append(r["second_cpu_ns"] / 1e6)
                    wall, cpu = embpack_init(embpack, out, args.rows, dim, args.seed, threads, path)
                    ours.append(wall / 1e6)
                    ourcpu.append(cpu / 1e6)
                t1, t2, e, c1, c2, ec = (float(np.median(x)) for x in (firsts, seconds, ours, cpu1, cpu2, ourcpu))
                results["init"].append({
                    "threads": threads, "path": path, "rows": args.rows, "dim": dim, "rounds": args.init_rounds,
                    "torch_first_ms": t1, "torch_second_ms": t2, "embstore_ms": e,
                    "ratio_first": t1 / e, "ratio_second": t2 / e,
                    "round_ratios_first": [a / b for a, b in zip(firsts, ours)],
                    "round_ratios_second": [a / b for a, b in zip(seconds, ours)],
                    "torch_first_cpu_ms": c1, "torch_second_cpu_ms": c2, "embstore_cpu_ms": ec,
                    "load_average": os.getloadavg()[0],
                })
    os.remove(out)


def print_init(r):
    print(f"seeded init: torch {r['torch']} nn.Embedding (fresh process, first and second call) against "
          f"embpack init (whole process, file written and synced); ratio = torch median / embstore median")
    print("wall ms: torch 1st, 2nd call, embstore; ratios; CPU ms (user + system): torch 1st, 2nd, embstore; load average")
    print(f"{'threads':>7} {'path':<8} {'shape':<10} {'1st':>7} {'2nd':>7} {'emb':>7} {'r 1st':>6} {'r 2nd':>6} "
          f"{'cpu 1st':>7} {'cpu 2nd':>7} {'cpu emb':>7} {'load':>5}  per round (2nd)")
    for x in r["init"]:
        rounds = " ".join(f"{q:.2f}" for q in x["round_ratios_second"])
        print(f"{x['threads']:>7} {x['path']:<8} {str(x['rows']) + 'x' + str(x['dim']):<10} {x['torch_first_ms']:>7.1f} "
              f"{x['torch_second_ms']:>7.1f} {x['embstore_ms']:>7.1f} {x['ratio_first']:>6.2f} {x['ratio_second']:>6.2f} "
              f"{x['torch_first_cpu_ms']:>7.1f} {x['torch_second_cpu_ms']:>7.1f} {x['embstore_cpu_ms']:>7.1f} "
              f"{x['load_average']:>5.1f}  {rounds}")


def check_values(embquery, table, ids_np, W, P, seq, offsets):
    """Both sides must compute the same values."""
    idlist = ",".join(str(i) for i in ids_np[:2 * seq])
    raw = run([embquery, "lookup", table, "--ids", idlist, "--format", "raw"]).stdout
    got = np.frombuffer(raw, dtype="<f4").reshape(-1, W.shape[1])
    want = torch.index_select(W, 0, torch.from_numpy(ids_np[:2 * seq])).numpy()
    assert (got.view(np.uint32) == want.view(np.uint32)).all(), "gather differs from torch"
    raw = run([embquery, "lookup", table, "--ids", idlist, "--positions", "--seq-len", str(seq), "--format", "raw"]).stdout
    got = np.frombuffer(raw, dtype="<f4").reshape(-1, W.shape[1])
    p = torch.arange(seq).repeat(2)
    want = torch.add(F.embedding(torch.from_numpy(ids_np[:2 * seq]), W), F.embedding(p, P)).numpy()
    assert (got.view(np.uint32) == want.view(np.uint32)).all(), "gather+pos differs from torch"
    offs = ",".join(str(int(o)) for o in offsets)
    raw = run([embquery, "bag", table, "--ids", ",".join(str(i) for i in ids_np), "--offsets", offs,
               "--mode", "mean", "--format", "raw"]).stdout
    got = np.frombuffer(raw, dtype="<f4").reshape(-1, W.shape[1])
    want = F.embedding_bag(torch.from_numpy(ids_np), W, offsets, mode="mean").numpy()
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-6)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), f"bag mean differs from torch (max rel {rel.max():g})"


def capability():
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch < 2.0: "CPU capability usage: AVX2" in the build configuration
        for line in torch.__config__.show().splitlines():
            if "CPU capability usage" in line:
                return line.split(":", 1)[1].strip()
        return "unknown"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(r):
    print(f"torch {r['torch']} ({r['torch_capability']}, FBGEMM {'yes' if r['fbgemm'] else 'no'}) on {r['cpu']}")
    print(f"table {r['rows']} x {r['dim']} f32, batch {r['batch']}, embstore map mode {r['map_mode']}; ratio = torch median / embstore median")
    print(f"{'threads':>7} {'workload':<11} {'torch rows/s':>13} {'embstore rows/s':>16} {'ratio':>6}  per round")
    for x in r["runs"]:
        rounds = " ".join(f"{q:.2f}" for q in x["round_ratios"])
        print(f"{x['threads']:>7} {x['workload']:<11} {x['torch_rows_per_s']:>13.3g} {x['embstore_rows_per_s']:>16.3g} {x['ratio']:>6.2f}  {rounds}")


if __name__ == "__main__":
    main()
