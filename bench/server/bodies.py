#!/usr/bin/env python3
"""Request bodies for bench/server/run.sh, one JSON body per line.

  bodies.py search QUERIES.jsonl OUT            {"query": text, "k": 10, "mode": "lexical", "with_text": false}
  bodies.py embed CORPUS.jsonl N PER OUT OUT.jsonl   N documents ("title text", stripped, as
                                                   `densearch embed` reads BEIR lines), PER per
                                                   request; OUT.jsonl: the same N as {"text"} lines
"""
import json
import sys

if sys.argv[1] == "search":
    with open(sys.argv[2]) as f, open(sys.argv[3], "w") as out:
        for line in f:
            q = json.loads(line)
            out.write(json.dumps({"query": q["text"], "k": 10, "mode": "lexical", "with_text": False}) + "\n")
else:
    n, per = int(sys.argv[3]), int(sys.argv[4])
    texts = []
    with open(sys.argv[2]) as f:
        for line in f:
            d = json.loads(line)
            texts.append((d.get("title", "") + " " + d.get("text", "")).strip())
            if len(texts) == n:
                break
    with open(sys.argv[5], "w") as out:
        for i in range(0, len(texts), per):
            out.write(json.dumps({"model": "m", "input": texts[i:i + per]}) + "\n")
    with open(sys.argv[6], "w") as out:
        for t in texts:
            out.write(json.dumps({"text": t}) + "\n")
