#!/usr/bin/env python3
"""build_demo_corpus.py -- a real corpus from what every Debian machine has:
the system manual pages and/or the WordNet glosses (package wordnet-base).

  python3 scripts/build_demo_corpus.py OUT.jsonl [--source auto|man|wordnet|both] [--max-docs N]

Writes BEIR-style JSONL: {"_id", "title", "text"}, one document a line.
  - man pages: /usr/share/man/man*/ (English pages only), gzipped or plain roff.
    Markup is stripped (requests, font and character escapes, comments,
    macro definitions); .so redirects (aliases) are skipped. _id is
    "name(section)", the title is the NAME line ("ls - list directory contents").
  - WordNet: /usr/share/wordnet/data.{noun,verb,adj,adv}. One document per
    synset: _id "wn:noun:00001740", title the synonyms, text the gloss.
--source auto (default) takes both when present and whatever exists
otherwise, so a minimal machine whose dpkg excludes drop the man pages still
gets a corpus. Standard library only; Python 3.5+.
"""
import argparse
import glob
import gzip
import json
import os
import re
import sys

MAN_ROOT = "/usr/share/man"
WORDNET_ROOT = "/usr/share/wordnet"

# Requests whose arguments are not text (layout, definitions, conditionals).
DROP_REQUESTS = {
    "TH", "PP", "LP", "P", "br", "sp", "fi", "nf", "RS", "RE", "in", "ti", "ds", "nr", "tr", "if", "ie",
    "el", "ft", "ad", "na", "hy", "nh", "ne", "ps", "vs", "ll", "ta", "so", "mso", "cu", "ul", "ce",
    "TS", "TE", "T&", "EQ", "EN", "Dd", "Dt", "Os", "Bl", "El", "Bd", "Ed", "Pp", "Lp", "bp", "pc",
    "lf", "rm", "rn", "am", "als", "ec", "eo", "cc", "c2", "fam", "ev", "do", "PD", "UC", "DT", "YS",
    "SY", "hw", "TP", "HP", "TQ", "PD", "in", "ig", "ns", "rs", "ss", "ie", "wh", "ch", "it", "fc", "lg", "mk", "rt", "sv", "os",
}
SPECIAL = {"em": "--", "en": "-", "hy": "-", "bu": "*", "co": "(c)", "rg": "(R)", "lq": '"', "rq": '"',
           "oq": "'", "cq": "'", "aq": "'", "dq": '"', "ga": "`", "aa": "'", "ti": "~", "ha": "^",
           "rs": "\\", "lh": "<=", "rh": "=>", "<=": "<=", ">=": ">=", "mu": "x", "pl": "+", "mi": "-",
           "eq": "=", "sl": "/", "ba": "|", "br": "|", "tm": "(TM)", "de": " degrees"}

ESCAPE = re.compile(r"""\\(?:
      f(?:\[[^\]]*\]|\(..|.)        # font change
    | s[+-]?(?:\d\d?|\(\d\d|\[\d+\]) # size change
    | \*(?:\[[^\]]*\]|\(..|.)       # string interpolation
    | n[+-]?(?:\[[^\]]*\]|\(..|.)   # number register
    | \((..)                        # special character \(xx  (group 1)
    | \[([^\]]*)\]                  # special character \[name] (group 2)
    | [kgmMVYwhvlLxbNoDRSXZ]'[^']*'  # escapes with a quoted argument
    | [kgmMVYFwhvlLxbNoDRSXZ](?:\[[^\]]*\]|\(..|.)
    | (.)                           # anything else (group 3)
)""", re.X)


def _esc(m):
    if m.group(1) is not None or m.group(2) is not None:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return SPECIAL.get(name, " ")
    c = m.group(3)
    if c is None:
        return ""
    return {"-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", "t": " ", "c": "", "&": "",
            "|": "", "^": "", "%": "", ":": "", ")": "", "/": "", ",": "", "'": "'", "`": "`", ".": "."}.get(c, c)


# mdoc macros that may appear as words inside other macros' arguments.
MDOC_CALLABLE = {"Fl", "Ar", "Xr", "Pa", "Op", "Oo", "Oc", "Ns", "Cm", "Em", "Sy", "Li", "Dq", "Qq", "Sq",
                 "Pq", "Ql", "Ev", "Va", "Fn", "Fa", "Ft", "Dv", "Er", "Ic", "Xo", "Xc", "Ao", "Ac", "Bq",
                 "Bo", "Bc", "Do", "Dc", "Qo", "Qc", "So", "Sc", "Po", "Pc", "Ux", "Bx", "At", "An", "Lk",
                 "Mt", "Ms", "No", "Tn", "Cd", "Vt", "Aq", "Brq", "Bro", "Brc", "Eo", "Ec", "Ta"}


def mdoc_words(args):
    out, dash = [], False
    for a in args:
        if a in MDOC_CALLABLE:
            dash = a == "Fl"
            if dash:
                out.append("-")
            continue
        if dash and out and out[-1] == "-":
            out[-1] = "-" + a
            dash = False
        else:
            out.append(a)
    return out


def strip_inline(s):
    s = s.split('\\"', 1)[0]        # comment to end of line
    return ESCAPE.sub(_esc, s)


def split_args(s):
    # Request arguments: words, or "quoted strings" ("" inside = a quote).
    out, i, n = [], 0, len(s)
    while i < n:
        while i < n and s[i] in " \t":
            i += 1
        if i >= n:
            break
        if s[i] == '"':
            j, buf = i + 1, []
            while j < n:
                if s[j] == '"':
                    if j + 1 < n and s[j + 1] == '"':
                        buf.append('"'); j += 2; continue
                    break
                buf.append(s[j]); j += 1
            out.append("".join(buf)); i = j + 1
        else:
            j = i
            while j < n and s[j] not in " \t":
                j += 1
            out.append(s[i:j]); i = j
    return out


def roff_to_text(src):
    """Returns (name_line, text) from roff (man or mdoc) source."""
    lines, in_def, in_name, name_parts = [], False, False, []
    nm, nd = None, None
    for raw in src.split("\n"):
        if in_def:
            if raw.startswith(".."):
                in_def = False
            continue
        if raw.startswith(('.\\"', "'\\\"", '.\\#')) or raw.strip() in (".", "'"):
            continue
        if raw.startswith((".", "'")):
            body = raw[1:].lstrip()
            req = body.split(None, 1)
            if not req:
                continue
            name, rest = req[0], (req[1] if len(req) > 1 else "")
            if name in ("de", "de1", "am", "ig"):
                in_def = True
                continue
            if name in ("SH", "Sh", "SS", "Ss"):
                if name in ("SS", "Ss"):
                    lines.append(" ".join(split_args(strip_inline(rest))))
                    continue
                title = " ".join(split_args(strip_inline(rest)))
                in_name = title.upper() == "NAME"
                lines.append("")
                lines.append(title)
                continue
            if name == "Nm" and nm is None and rest.strip():
                nm = strip_inline(rest).strip()
            if name == "Nd":
                nd = " ".join(split_args(strip_inline(rest)))
                if in_name:
                    name_parts.append("- " + nd)
            if name in DROP_REQUESTS or len(name) > 3 and name not in ("SH", "SS", "IP", "TP"):
                continue
            args = split_args(strip_inline(rest))
            if name == "IP":
                args = args[:1]      # IP tag [indent]: the indent is not text
            if name in MDOC_CALLABLE or name in ("It", "Nm", "Nd"):
                args = mdoc_words([name] + args if name in MDOC_CALLABLE else args)
            text = " ".join(a for a in args if a)
            if text:
                lines.append(text)
                if in_name:
                    name_parts.append(text)
            continue
        t = strip_inline(raw)
        lines.append(t)
        if in_name and t.strip():
            name_parts.append(t.strip())
    text = re.sub(r"[ \t]+", " ", "\n".join(lines))
    text = re.sub(r"\n\s*\n+", "\n", text).strip()
    name_line = " ".join(name_parts).strip()
    if not name_line and nm:
        name_line = nm + (" - " + nd if nd else "")
    return re.sub(r"\s+", " ", name_line), text


def man_docs(max_docs):
    seen = set()
    n = 0
    paths = sorted(glob.glob(os.path.join(MAN_ROOT, "man*", "*")))
    for p in paths:
        if max_docs and n >= max_docs:
            return
        if os.path.isdir(p):
            continue
        base = os.path.basename(p)
        if base.endswith(".gz"):
            base = base[:-3]
        if "." not in base:
            continue
        page, section = base.rsplit(".", 1)
        doc_id = "%s(%s)" % (page, section)
        if doc_id in seen or os.path.islink(p):
            continue          # symlinks are aliases of another page
        try:
            if p.endswith(".gz"):
                with gzip.open(p, "rb") as f:
                    data = f.read(4 << 20)
            else:
                with open(p, "rb") as f:
                    data = f.read(4 << 20)
        except (OSError, EOFError, ValueError) as e:
            sys.stderr.write("build_demo_corpus: skipping %s: %s\n" % (p, e))
            continue
        src = data.decode("utf-8", errors="replace")
        if src.lstrip().startswith(".so ") and src.count("\n") <= 2:
            continue          # alias page
        name_line, text = roff_to_text(src)
        if len(text) < 20:
            continue
        seen.add(doc_id)
        n += 1
        yield {"_id": doc_id, "title": name_line or page, "text": text}


def wordnet_docs(max_docs):
    n = 0
    for pos in ("noun", "verb", "adj", "adv"):
        path = os.path.join(WORDNET_ROOT, "data." + pos)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if max_docs and n >= max_docs:
                    return
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                head, gloss = line.split("|", 1)
                fields = head.split()
                try:
                    w_cnt = int(fields[3], 16)
                    words = [fields[4 + 2 * i].replace("_", " ") for i in range(w_cnt)]
                except (IndexError, ValueError):
                    continue
                words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]  # adjective markers "(a)"
                n += 1
                yield {"_id": "wn:%s:%s" % (pos, fields[0]), "title": ", ".join(words), "text": gloss.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--source", choices=("auto", "man", "wordnet", "both"), default="auto")
    ap.add_argument("--max-docs", type=int, default=0, help="per source; 0 = all")
    a = ap.parse_args()
    have_man = bool(glob.glob(os.path.join(MAN_ROOT, "man*", "*")))
    have_wn = os.path.exists(os.path.join(WORDNET_ROOT, "data.noun"))
    use_man = a.source in ("man", "both") or (a.source == "auto" and have_man)
    use_wn = a.source in ("wordnet", "both") or (a.source == "auto" and have_wn)
    if (use_man and not have_man and a.source != "auto") or (use_wn and not have_wn and a.source != "auto"):
        sys.exit("build_demo_corpus: requested source missing (man pages: %s, wordnet: %s)" % (have_man, have_wn))
    if not use_man and not use_wn:
        sys.exit("build_demo_corpus: no man pages under %s and no WordNet under %s "
                 "(install wordnet-base: sh scripts/install-deps.sh)" % (MAN_ROOT, WORDNET_ROOT))
    counts = {"man": 0, "wordnet": 0}
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for src, gen in (("man", man_docs if use_man else None), ("wordnet", wordnet_docs if use_wn else None)):
            if gen is None:
                continue
            for d in gen(a.max_docs):
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
                counts[src] += 1
    os.replace(tmp, a.out)
    print("build_demo_corpus: %d man pages, %d WordNet synsets -> %s" % (counts["man"], counts["wordnet"], a.out))


if __name__ == "__main__":
    main()
