#!/usr/bin/python3
"""gen_corpus.py -- deterministic synthetic corpus in the BEIR layout, for
lexical speed benchmarks at scale.

  /usr/bin/python3 bench/lexical/gen_corpus.py OUT_DIR [--docs 1000000] [--queries 1000] [--seed 42]

Writes OUT_DIR/corpus.jsonl ({"_id", "title", "text"}), OUT_DIR/queries.jsonl
and OUT_DIR/qrels/test.tsv. Same arguments -> byte-identical files.

Model (why each choice):
  - Vocabulary: VOCAB pronounceable pseudo-words built from syllables, so the
    analyzer (case folding, stemming) sees word-like input rather than ids.
    A few hundred real English function words sit at the top ranks, so the
    stop-word list has its usual effect.
  - Term frequencies: Zipf, p(rank r) ~ 1 / r^1.07 (natural text is close to 1).
  - Document length: log-normal, mean ~200 tokens (sigma 0.7), clipped to
    [8, 4000]; titles 3-12 tokens from the same distribution.
  - Queries: known-item queries. Query i picks a target document and 2-6 of its
    rarer words (plus sometimes a common one); the target is judged relevant
    (qrels score 1), so BEIR tooling and `densearch beir` work unchanged and
    quality on it is a sanity check, not a research number.
Needs numpy (python3-numpy, installed by scripts/install-deps.sh --bench).
Generation is chunked (memory stays small) and takes ~2-3 minutes for 1M docs.
"""
import argparse
import json
import os
import sys

import numpy as np

VOCAB = 300_000
ZIPF_S = 1.07
CHUNK = 20_000

FUNCTION_WORDS = (
    "the of and to a in is that for it as was with be by on not he this are or his from at which but "
    "have an they you were her she there been one all we their has would when if so no what can more "
    "will about up out them some could into other than then only its also two may these over such after "
    "first most new any very where through should between each under while much those both how because"
).split()

ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
          "br", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sc", "sh", "sl", "sp", "st", "str", "th", "tr", "ch"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
CODAS = ["", "", "", "", "", "n", "r", "s", "l", "m", "t", "nd", "st", "ng", "x", "ck", "rt"]


def make_vocab(rng):
    """VOCAB distinct pseudo-words; shorter words get the frequent ranks (as in
    natural language: Zipf's law of abbreviation)."""
    words, seen = list(FUNCTION_WORDS), set(FUNCTION_WORDS)
    need = VOCAB - len(words)
    cand = []
    while len(cand) < need:
        m = 2 * need
        n_syl = rng.choice([1, 2, 2, 2, 3, 3, 4], size=m)
        on = rng.integers(len(ONSETS), size=(m, 4))
        vo = rng.integers(len(VOWELS), size=(m, 4))
        co = rng.integers(len(CODAS), size=(m, 4))
        for i in range(m):
            w = "".join(ONSETS[on[i, j]] + VOWELS[vo[i, j]] + CODAS[co[i, j]] for j in range(n_syl[i]))
            if len(w) >= 3 and w not in seen:
                seen.add(w)
                cand.append(w)
                if len(cand) == need:
                    break
    cand.sort(key=len)  # stable: ties keep their random order
    return words + cand


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.docs < 1 or a.queries < 0 or a.queries > a.docs:
        sys.exit("gen_corpus: need --docs >= 1 and 0 <= --queries <= --docs")

    rng = np.random.default_rng(a.seed)
    vocab = make_vocab(rng)
    vocab_arr = np.array(vocab, dtype=object)
    ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
    cdf = np.cumsum(1.0 / ranks ** ZIPF_S)
    cdf /= cdf[-1]

    # Known-item targets, chosen up front so queries come from their docs.
    targets = np.sort(rng.choice(a.docs, size=a.queries, replace=False)) if a.queries else np.array([], dtype=np.int64)
    target_set = {int(t): i for i, t in enumerate(targets)}
    queries = [None] * a.queries

    os.makedirs(os.path.join(a.out, "qrels"), exist_ok=True)
    mu = np.log(200.0) - 0.7 ** 2 / 2  # mean of the log-normal = 200
    with open(os.path.join(a.out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for start in range(0, a.docs, CHUNK):
            n = min(CHUNK, a.docs - start)
            lens = np.clip(rng.lognormal(mu, 0.7, n).astype(np.int64), 8, 4000)
            tlens = rng.integers(3, 13, n)
            total = int(lens.sum() + tlens.sum())
            ids = np.searchsorted(cdf, rng.random(total), side="right")
            np.minimum(ids, VOCAB - 1, out=ids)
            toks = vocab_arr[ids]
            pos = 0
            out = []
            for i in range(n):
                tl, bl = int(tlens[i]), int(lens[i])
                title = toks[pos:pos + tl]
                body = toks[pos + tl:pos + tl + bl]
                ids_body = ids[pos + tl:pos + tl + bl]
                pos += tl + bl
                doc_id = start + i
                out.append('{"_id": "D%d", "title": "%s", "text": "%s"}\n' %
                           (doc_id, " ".join(title).capitalize(), " ".join(body)))
                qi = target_set.get(doc_id)
                if qi is not None:
                    # the doc's rarer words (rank > 200) make a findable query
                    rare = np.unique(ids_body[ids_body > 200])
                    k = int(min(len(rare), rng.integers(2, 7)))
                    pick = list(rng.choice(rare, size=k, replace=False)) if k else list(ids_body[:3])
                    if rng.random() < 0.3:
                        pick.insert(int(rng.integers(len(pick) + 1)), ids_body[0])
                    queries[qi] = (doc_id, " ".join(vocab[int(t)] for t in pick))
            f.write("".join(out))
            if sys.stderr.isatty():
                sys.stderr.write("\rgen_corpus: %d/%d docs" % (start + n, a.docs))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    with open(os.path.join(a.out, "queries.jsonl"), "w", encoding="utf-8") as f:
        for i, (doc_id, text) in enumerate(queries):
            f.write(json.dumps({"_id": "Q%d" % i, "text": text}) + "\n")
    with open(os.path.join(a.out, "qrels", "test.tsv"), "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for i, (doc_id, _) in enumerate(queries):
            f.write("Q%d\tD%d\t1\n" % (i, doc_id))
    print("gen_corpus: %d docs, %d queries in %s (seed %d)" % (a.docs, a.queries, a.out, a.seed))


if __name__ == "__main__":
    main()
