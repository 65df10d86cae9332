"""Medians of bench/tokenizers/run.sh's output: MB/s (10^6 bytes of UTF-8
input per second) per implementation, tokenizer and mode, and embstore's
ratio to each. Usage: python3 summarize.py results.jsonl"""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["tokenizer"], r["mode"], r["impl"])].append(r["bytes"] / r["seconds"] / 1e6)
print("| tokenizer | mode | implementation | runs | median MB/s | embstore / it |")
print("|---|---|---|---|---|---|")
for (tok, mode, impl), v in sorted(runs.items()):
    med = statistics.median(v)
    ours = statistics.median(runs[(tok, mode, "embstore")])
    ratio = "" if impl == "embstore" else "%.1fx" % (ours / med)
    print("| %s | %s | %s | %d | %.3f | %s |" % (tok, mode, impl, len(v), med, ratio))
