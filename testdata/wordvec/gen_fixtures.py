#!/usr/bin/python3
"""Generate the word-vector fixtures of internal/wordvec with gensim.

Run from this directory with Debian's python3-gensim (4.2):

    /usr/bin/python3 gen_fixtures.py

It writes a small corpus (corpus.txt.gz, drawn from templates with a fixed
seed), trains a tiny word2vec and a tiny fastText model on it (workers=1,
fixed seeds, PYTHONHASHSEED=0), saves them in every classic format, writes
compressed copies with the gzip, bzip2, zstd and zip commands, writes
hand-crafted variants (odd words, odd numbers, duplicates, invalid UTF-8),
and records in expected.json what gensim computes from each file: the words,
the vectors (SHA-256 of the float32 matrix and the bit patterns of some rows),
fastText n-gram hashes and out-of-vocabulary vectors, most_similar results for
the neighbour search, and the float32 numpy gives 1038 decimal strings (as
gensim parses a value: numpy.float32(s)).

Files: w2v.bin, w2v.txt, glove.txt (word2vec binary, text, no header; 212
words, dim 12), ft.bin (fastText, dim 8, minn 2, maxn 4, 300 buckets) and
ft.vec (its vectors as gensim composes them), ft-native.vec (ft.vec with a
space at the end of every line, as fastText writes), compressed copies (.gz,
.bz2, .zst, glove.zip, two-members.zip), crafted.txt and crafted.bin (odd
words, odd numbers, duplicates, invalid UTF-8), spaces.txt (words with
spaces) and spaces-twin.txt (the same with '_', for gensim), ft-labels.bin
(ft.bin with two supervised labels added to its dictionary).
"""

import gzip
import hashlib
import json
import os
import random
import struct
import subprocess
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import gensim  # noqa: E402
from gensim.models import FastText, KeyedVectors, Word2Vec  # noqa: E402
from gensim.models.fasttext import (  # noqa: E402
    ft_ngram_hashes,
    load_facebook_vectors,
    save_facebook_model,
)

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)

# ---------------------------------------------------------------- corpus

PAIRS = [
    ("king", "queen"), ("prince", "princess"), ("man", "woman"), ("boy", "girl"),
    ("father", "mother"), ("son", "daughter"), ("brother", "sister"),
    ("husband", "wife"), ("uncle", "aunt"), ("emperor", "empress"),
    ("actor", "actress"), ("waiter", "waitress"), ("duke", "duchess"),
]
CAPITALS = [
    ("paris", "france"), ("berlin", "germany"), ("rome", "italy"), ("madrid", "spain"),
    ("東京", "日本"), ("москва", "россия"), ("αθήνα", "ελλάδα"), ("lisbon", "portugal"),
    ("vienna", "austria"), ("cairo", "egypt"), ("oslo", "norway"), ("dublin", "ireland"),
]
ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "bird", "fish", "lion", "tiger", "wolf",
           "fox", "bear", "mouse", "owl", "eagle"]
COLOURS = ["red", "green", "blue", "yellow", "black", "white", "grey", "pink"]
FOODS = ["bread", "cheese", "apple", "soup", "café", "crème", "brûlée", "rice", "milk",
         "honey", "straße", "über", "naïve", "jalapeño", "😀", "smörgåsbord"]
VERBS = ["rules", "walks", "eats", "sees", "loves", "builds", "reads", "writes", "sings",
         "runs", "visits", "paints", "likes", "finds"]
ADJS = ["old", "young", "wise", "happy", "sad", "tall", "small", "brave", "quiet", "loud"]
PLACES = ["kingdom", "castle", "village", "city", "forest", "river", "garden", "market"]
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
JOBS = ["doctor", "nurse", "teacher", "farmer", "baker", "painter", "singer", "writer", "sailor",
        "soldier", "judge", "pilot", "miner", "tailor", "potter", "smith"]
TOOLS = ["hammer", "knife", "spoon", "brush", "needle", "plough", "oven", "boat", "sword",
         "shield", "pen", "book", "drum", "lute", "wheel", "rope"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "spring", "summer", "autumn", "winter"]
WEATHER = ["rain", "snow", "wind", "sun", "fog", "storm", "frost", "cloud", "thunder", "hail"]


def sentences(rng, n):
    out = []
    for _ in range(n):
        t = rng.randrange(10)
        m, f = rng.choice(PAIRS)
        cap, country = rng.choice(CAPITALS)
        if t == 0:
            s = f"{cap} is the capital of {country}"
        elif t == 1:
            s = f"the {m} and his {f} {rng.choice(VERBS)} in {cap}"
        elif t == 2:
            s = f"a {rng.choice(ADJS)} {rng.choice(ANIMALS)} {rng.choice(VERBS)} the {rng.choice(FOODS)}"
        elif t == 3:
            s = f"he is a {m} and she is a {f}"
        elif t == 4:
            s = f"the {m} {rng.choice(VERBS)} the {rng.choice(COLOURS)} {rng.choice(PLACES)}"
        elif t == 5:
            s = f"the {f} {rng.choice(VERBS)} the {rng.choice(COLOURS)} {rng.choice(PLACES)}"
        elif t == 6:
            s = f"{rng.choice(NUMBERS)} {rng.choice(ANIMALS)} {rng.choice(VERBS)} near the {rng.choice(PLACES)} of {country}"
        elif t == 8:
            s = f"the {rng.choice(JOBS)} uses a {rng.choice(TOOLS)} on {rng.choice(DAYS)}"
        elif t == 9:
            s = f"in {rng.choice(DAYS)} the {rng.choice(WEATHER)} comes to {cap} and {rng.choice(PLACES)}"
        else:
            s = f"in {country} the {rng.choice(ADJS)} {m} eats {rng.choice(FOODS)} with the {f}"
        out.append(s.split())
    return out


def write_corpus():
    rng = random.Random(20261201)
    sents = sentences(rng, 4000)
    with open("corpus.txt.gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write("".join(" ".join(s) + "\n" for s in sents).encode("utf-8"))
    return sents


def read_corpus():
    with gzip.open("corpus.txt.gz", "rt", encoding="utf-8") as f:
        return [line.split() for line in f]


# ---------------------------------------------------------------- helpers

def bits(vec):
    return [int(x) for x in np.asarray(vec, dtype=np.float32).view(np.uint32)]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def words_sha(words):
    return sha("\n".join(words).encode("utf-8", "surrogateescape"))


def matrix_sha(m):
    return sha(np.ascontiguousarray(m, dtype="<f4").tobytes())


def describe(kv, fmt, sample):
    d = {
        "format": fmt,
        "rows": len(kv.index_to_key),
        "dim": int(kv.vector_size),
        "words_sha256": words_sha(kv.index_to_key),
        "vectors_sha256": matrix_sha(kv.vectors),
        "samples": {w: bits(kv[w]) for w in sample if w in kv.key_to_index},
    }
    return d


def compress(src, kind, dst=None):
    dst = dst or src + {"gzip": ".gz", "bzip2": ".bz2", "zstd": ".zst"}[kind]
    with open(src, "rb") as f, open(dst, "wb") as out:
        if kind == "gzip":
            subprocess.run(["gzip", "-n", "-9", "-c"], stdin=f, stdout=out, check=True)
        elif kind == "bzip2":
            subprocess.run(["bzip2", "-9", "-c"], stdin=f, stdout=out, check=True)
        else:
            subprocess.run(["zstd", "-q", "-19", "-c"], stdin=f, stdout=out, check=True)
    return dst


def zipup(dst, members):
    if os.path.exists(dst):
        os.remove(dst)
    for m in members:
        os.utime(m, (1764547200, 1764547200))  # fixed times: reproducible archives
    subprocess.run(["zip", "-q", "-X", "-9", dst] + members, check=True)


# ---------------------------------------------------------------- crafted files

def double_rounding_cases(rng, n):
    """Decimals on, just above and just below float32 midpoints: correctly
    rounded straight to float32 they go one way, through float64 (as Python
    and numpy parse them) the other."""
    out = []
    for _ in range(n):
        a = np.float32(rng.uniform(-4, 4) * 10.0 ** rng.randint(-6, 3))
        b = np.nextafter(a, np.float32(np.inf) if a > 0 else np.float32(-np.inf))
        m = (float(a) + float(b)) / 2  # exact in float64
        from decimal import Decimal, getcontext
        getcontext().prec = 120
        dm = Decimal(m)
        ulp = Decimal(np.spacing(m)) / 8
        out.append(format(dm, "f"))
        out.append(format(dm + ulp, "f"))
        out.append(format(dm - ulp, "f"))
    return out


ODD_NUMBERS = [
    "0", "-0", "+0.5", ".5", "-.25", "5.", "1e5", "1E-5", "-2.5e+3", "3.4028235e38", "3.5e38",
    "-1e39", "1e400", "1e-46", "1.4e-45", "-7e-46", "1e-400", "inf", "-inf", "Infinity", "-INF",
    "nan", "-nan", "NaN", "0.000000000000000000000000000000000000000000001",
    "123456789012345678901234567890", "0.1000000000000000055511151231257827021181583404541015625",
    "16777217", "16777216.5", "0.30000001192092896", "00012.500", "-0e-0",
]


def crafted_text(rng, dim):
    """A word2vec text file with odd words and odd numbers. Returns the file
    bytes and the rows as gensim should see them."""
    vals = ODD_NUMBERS + double_rounding_cases(rng, 60)
    vals += [repr(float(rng.uniform(-1, 1))) for _ in range(30)]  # 17 digits
    vals += ["%.20e" % rng.uniform(-1e-3, 1e-3) for _ in range(20)]
    words = [
        b"plain", "caf\u00e9".encode(), "non\u00a0breaking".encode(), b"tab\there",
        b"\xff\xfeinvalid", b"trunc\xe2\x82", b"plain", b"dup", b"dup", b"10",
        b"-3.5", "\u6771\u4eac".encode(), b"e-mail@example.com", b"wave~", b"<s>",
        b"last\r",
    ]
    rows = []
    k = 0
    lines = []
    for w in words:
        row = []
        for _ in range(dim):
            row.append(vals[k % len(vals)])
            k += 1
        rows.append((w, row))
    while k < len(vals):  # one row per remaining value block, so every value is used
        row = [vals[(k + j) % len(vals)] for j in range(dim)]
        k += dim
        rows.append((b"extra%d" % len(rows), row))
    for i, (w, row) in enumerate(rows):
        end = b" \r\n" if i % 3 == 0 else (b"\n" if i % 3 == 1 else b"  \n")
        lines.append(w + b" " + " ".join(row).encode() + end)
    return b"%d %d\n" % (len(rows), dim) + b"".join(lines), rows


def crafted_spaces(rng, dim):
    """Words with spaces (glove.840B and crawl-300d-2M have them): gensim
    cannot load them, so the twin file spells each space as '_' for gensim."""
    words = ["new york", ". . .", "a b c d", "trailing ", " leading", "x", "san  francisco"]
    body, twin = [], []
    for w in words:
        row = " ".join(repr(float(np.float32(rng.uniform(-1, 1)))) for _ in range(dim))
        body.append(f"{w} {row}\n")
        twin.append(f"{w.replace(' ', '_')} {row}\n")
    return "".join(body).encode(), "".join(twin).encode(), words


def crafted_binary(kv, rng):
    """A C-tool style binary file: a newline after every vector, a duplicate
    word and an invalid UTF-8 word."""
    words = list(kv.index_to_key[:20])
    extra = [(b"\xc3\x28bad", kv[words[0]] * 2), (words[3].encode(), kv[words[4]]), (b"tab\tword", -kv[words[5]])]
    rows = [(w.encode(), kv[w]) for w in words] + extra
    out = [b"%d %d\n" % (len(rows), kv.vector_size)]
    for w, v in rows:
        out.append(w + b" " + np.asarray(v, dtype="<f4").tobytes() + b"\n")
    return b"".join(out)


def with_labels(src, dst, labels):
    """Copy a fastText .bin, adding supervised labels to its dictionary (as
    a supervised model has them: after the words, type 1). The input matrix
    is unchanged: labels have no input rows."""
    b = open(src, "rb").read()
    off = 8 + 12 * 4 + 8
    size, nwords, nlabels = struct.unpack_from("<3i", b, off)
    assert nlabels == 0 and size == nwords
    head = bytearray(b[:off])
    p = off + 12 + 8 + 8
    for _ in range(size):
        p = b.index(b"\x00", p) + 1 + 8 + 1
    entries_end = p
    dictionary = bytearray(b[off:entries_end])
    struct.pack_into("<3i", dictionary, 0, size + len(labels), nwords, len(labels))
    for lab in labels:
        dictionary += lab.encode() + b"\x00" + struct.pack("<qb", 7, 1)
    open(dst, "wb").write(bytes(head) + bytes(dictionary) + b[entries_end:])


def number_cases(rng):
    """Decimal strings of every shape, with what numpy.float32(s) gives (as
    gensim parses a value): float32 midpoints at every scale (subnormals
    included) and beside them, long and short decimals, exponents."""
    out = []
    for _ in range(150):
        e = rng.randint(-45, 38)
        a = np.float32(rng.uniform(1, 10) * 10.0 ** e)
        if not np.isfinite(a) or a == 0:
            continue
        b = np.nextafter(a, np.float32(np.inf))
        m = (float(a) + float(b)) / 2
        from decimal import Decimal, getcontext
        getcontext().prec = 200
        dm = Decimal(m)
        tiny = Decimal(np.spacing(m)) / rng.choice([3, 16, 1000])
        for d in (dm, dm + tiny, dm - tiny):
            s = format(d, "e" if rng.random() < 0.5 else "f")
            if len(s) < 400:
                out.append(("-" if rng.random() < 0.3 else "") + s)
    for _ in range(400):
        nd = rng.randint(1, 24)
        digits = "".join(rng.choice("0123456789") for _ in range(nd))
        dot = rng.randint(0, nd)
        s = digits[:dot] + "." + digits[dot:] if rng.random() < 0.8 else digits
        if s == ".":
            s = "0."
        if rng.random() < 0.5:
            s += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 50))
        out.append(rng.choice(["", "-", "+"]) + s)
    for _ in range(200):
        f = np.float32(rng.uniform(-1, 1) * 10.0 ** rng.randint(-40, 38))
        out.append(rng.choice([repr(f), "%.9g" % f, "%.17g" % float(f), "%.6f" % f, "%.3e" % f]))
    return [[s, int(np.array(np.float32(s)).view(np.uint32))] for s in out]


# ---------------------------------------------------------------- main

def main():
    sents = write_corpus() if not os.path.exists("corpus.txt.gz") else read_corpus()
    rng = random.Random(7)

    w2v = Word2Vec(sents, vector_size=12, window=3, min_count=1, sg=1, negative=5,
                   seed=7, workers=1, epochs=8)
    kv = w2v.wv
    kv.save_word2vec_format("w2v.bin", binary=True)
    kv.save_word2vec_format("w2v.txt", binary=False)
    kv.save_word2vec_format("glove.txt", binary=False, write_header=False)

    ft = FastText(sents, vector_size=8, window=3, min_count=1, min_n=2, max_n=4,
                  bucket=300, seed=7, workers=1, epochs=5)
    save_facebook_model(ft, "ft.bin")
    ftv = load_facebook_vectors("ft.bin")
    ftv.save_word2vec_format("ft.vec", binary=False)

    # fastText's own .vec writer ends every line with a space.
    with open("ft.vec") as f, open("ft-native.vec", "w") as out:
        head = f.readline()
        out.write(head)
        for line in f:
            out.write(line.rstrip("\n") + " \n")

    compress("w2v.bin", "gzip")
    compress("w2v.bin", "bzip2")
    compress("w2v.txt", "zstd")
    compress("w2v.txt", "bzip2")
    compress("glove.txt", "gzip")
    compress("glove.txt", "zstd")
    compress("ft.vec", "gzip")
    compress("ft.bin", "gzip")
    compress("ft.bin", "zstd")
    compress("ft.bin", "bzip2")
    zipup("glove.zip", ["glove.txt"])
    zipup("two-members.zip", ["w2v.txt", "ft.vec"])

    text, crafted_rows = crafted_text(rng, 6)
    open("crafted.txt", "wb").write(text)
    compress("crafted.txt", "gzip")
    spaces, twin, space_words = crafted_spaces(rng, 5)
    open("spaces.txt", "wb").write(spaces)
    open("spaces-twin.txt", "wb").write(twin)
    open("crafted.bin", "wb").write(crafted_binary(kv, rng))
    with_labels("ft.bin", "ft-labels.bin", ["__label__sports", "__label__news"])

    sample = ["king", "queen", "café", "東京", "😀", "paris", "the", "smörgåsbord"]
    files = {}
    for name, fmt, loader in [
        ("w2v.bin", "word2vec", lambda p: KeyedVectors.load_word2vec_format(p, binary=True)),
        ("w2v.bin.gz", "word2vec", lambda p: KeyedVectors.load_word2vec_format(p, binary=True)),
        ("w2v.bin.bz2", "word2vec", lambda p: KeyedVectors.load_word2vec_format(p, binary=True)),
        ("w2v.txt", "word2vec-text", lambda p: KeyedVectors.load_word2vec_format(p)),
        ("w2v.txt.bz2", "word2vec-text", lambda p: KeyedVectors.load_word2vec_format(p)),
        ("w2v.txt.zst", "word2vec-text", lambda p: KeyedVectors.load_word2vec_format("w2v.txt")),
        ("glove.txt", "glove", lambda p: KeyedVectors.load_word2vec_format(p, no_header=True)),
        ("glove.txt.gz", "glove", lambda p: KeyedVectors.load_word2vec_format(p, no_header=True)),
        ("glove.txt.zst", "glove", lambda p: KeyedVectors.load_word2vec_format("glove.txt", no_header=True)),
        ("glove.zip", "glove", lambda p: KeyedVectors.load_word2vec_format("glove.txt", no_header=True)),
        ("ft.vec", "word2vec-text", lambda p: KeyedVectors.load_word2vec_format(p)),
        ("ft.vec.gz", "word2vec-text", lambda p: KeyedVectors.load_word2vec_format(p)),
        ("ft-native.vec", "word2vec-text", lambda p: KeyedVectors.load_word2vec_format(p)),
        ("ft.bin", "fasttext-bin", load_facebook_vectors),
        ("ft.bin.gz", "fasttext-bin", load_facebook_vectors),
        ("ft.bin.zst", "fasttext-bin", lambda p: load_facebook_vectors("ft.bin")),
        ("ft.bin.bz2", "fasttext-bin", lambda p: load_facebook_vectors("ft.bin")),  # gensim 4.2 cannot: BZ2File has no .name
        ("spaces-twin.txt", "glove", lambda p: KeyedVectors.load_word2vec_format(p, no_header=True)),
    ]:
        files[name] = describe(loader(name), fmt, sample)

    # The crafted files hold invalid UTF-8, which gensim decodes only with
    # unicode_errors; the rows (after gensim drops duplicates) are what we
    # compare, with the words given as bytes (hex).
    def crafted(name, binary):
        g = KeyedVectors.load_word2vec_format(name, binary=binary, unicode_errors="surrogateescape")
        # gensim 4.2 leaves a None key (and a zero row) at the end for every
        # duplicate it dropped, instead of shrinking the matrix as it means to.
        words = [w for w in g.index_to_key if w is not None]
        assert all(w is None for w in g.index_to_key[len(words):])
        return {
            "rows": len(words),
            "dim": int(g.vector_size),
            "duplicates": len(g.index_to_key) - len(words),
            "words_hex": [w.encode("utf-8", "surrogateescape").hex() for w in words],
            "vectors": [bits(v) for v in g.vectors[:len(words)]],
        }

    files["crafted.txt"] = crafted("crafted.txt", False)
    files["crafted.txt.gz"] = files["crafted.txt"]
    files["crafted.bin"] = crafted("crafted.bin", True)

    # fastText: the n-gram hashes and out-of-vocabulary vectors gensim computes.
    probe = ["king", "kingdom", "queenly", "cafés", "naïveté", "東京都", "😀😀", "x", "",
             "straßenbahn", "\u00a0", "a" * 40, "Ωmega", "e\u0301", "</s>", "москвич"]
    oov = {}
    for w in probe:
        if w in ftv.key_to_index:
            continue
        oov[w] = bits(ftv[w])
    hashes = {w: [int(h) for h in ft_ngram_hashes(w, ftv.min_n, ftv.max_n, ftv.bucket)] for w in probe}
    for mn, mx, bk in [(1, 1, 1000), (3, 6, 2000000), (1, 8, 97), (5, 5, 10)]:
        for w in ["naïveté", "東京都", "😀x", "ab"]:
            hashes.setdefault(f"{mn},{mx},{bk}:{w}", [int(h) for h in ft_ngram_hashes(w, mn, mx, bk)])
    fasttext = {
        "file": "ft.bin",
        "minn": int(ftv.min_n),
        "maxn": int(ftv.max_n),
        "bucket": int(ftv.bucket),
        "dim": int(ftv.vector_size),
        "nwords": len(ftv.index_to_key),
        "words_sha256": words_sha(ftv.index_to_key),
        "vectors_sha256": matrix_sha(ftv.vectors),
        "vectors_vocab_sha256": matrix_sha(ftv.vectors_vocab),
        "vectors_ngrams_sha256": matrix_sha(ftv.vectors_ngrams),
        "oov": oov,
        "hashes": hashes,
    }

    # Neighbours, for the search phase: gensim's most_similar on the
    # word2vec vectors and on the fastText vectors.
    def sims(kv, **kw):
        return [[w, float(s)] for w, s in kv.most_similar(**kw)]

    similar = []
    for q in ["king", "paris", "cat", "café", "東京", "red"]:
        similar.append({"file": "w2v.bin", "positive": [q], "negative": [], "topn": 10,
                        "result": sims(kv, positive=[q], topn=10)})
    for pos, neg in [(["king", "woman"], ["man"]), (["berlin", "france"], ["paris"]),
                     (["queen", "boy"], ["girl"]), (["dog"], ["cat"])]:
        similar.append({"file": "w2v.bin", "positive": pos, "negative": neg, "topn": 5,
                        "result": sims(kv, positive=pos, negative=neg, topn=5)})
    for q, r in [("king", 50), ("cow", 30)]:
        similar.append({"file": "w2v.bin", "positive": [q], "negative": [], "topn": 10,
                        "restrict_vocab": r, "result": sims(kv, positive=[q], topn=10, restrict_vocab=r)})
    for q in ["king", "naïve"]:
        similar.append({"file": "ft.bin", "positive": [q], "negative": [], "topn": 10,
                        "result": sims(ftv, positive=[q], topn=10)})

    expected = {
        "generator": "gen_fixtures.py",
        "gensim": gensim.__version__,
        "numpy": np.__version__,
        "files": files,
        "spaces": {"file": "spaces.txt", "twin": "spaces-twin.txt",
                   "words": space_words},
        "fasttext": fasttext,
        "fasttext_labels": {"file": "ft-labels.bin", "labels": 2, "like": "ft.bin"},
        "similar": similar,
        "numbers": number_cases(random.Random(11)),
    }
    with open("expected.json", "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
