#!/usr/bin/env python3
"""One source of truth: for every tests/golden/NAME.err (what `nnc check`
prints for NAME.nn), the diagnostics `nnc lsp` publishes for the same file
must say the same things at the same places. Each published diagnostic,
with its relatedInformation notes, is turned back into `nnc check`'s
header lines (path:line:col: severity: message, the column converted from
UTF-16 back to bytes with the file's text) and its caret's width, and
compared with the .err file, file by file in order.

The server runs in tests/golden, as the golden test runs `nnc check`, so
relative paths in messages agree. NNC names the binary, WRAP may prefix it."""
import glob
import os
import re
import sys
from urllib.parse import unquote, urlparse

from lsp_io import session

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
GOLDEN = os.path.abspath(GOLDEN)
SEVERITY = {1: "error", 2: "warning", 3: "note"}
HEADER = re.compile(r"^(?:(?P<path>[^\s:][^:]*):(?:(?P<line>\d+):(?P<col>\d+):)? |nnc: )"
                    r"(?P<sev>error|warning|note): (?P<msg>.*)$")


def err_entries(text):
    """(path, line, col, severity, message, caret width or None) per header
    line of an .err file; the width when the quoted line is shown whole."""
    out, lines = [], text.split("\n")
    for i, line in enumerate(lines):
        m = HEADER.match(line)
        if not m:
            continue
        width = None
        quote = lines[i + 1] if i + 1 < len(lines) else ""
        caret = lines[i + 2] if i + 2 < len(lines) else ""
        if m.group("line") and quote.startswith("    ") and not quote.startswith("    ... ") \
                and not quote.endswith(" ...") and caret.strip().startswith("^"):
            width = len(caret.strip())
        line_no = int(m.group("line")) if m.group("line") else None
        col = int(m.group("col")) if m.group("col") else None
        out.append((m.group("path"), line_no, col, m.group("sev"), m.group("msg"), width))
    return out


def file_lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")


def byte_col(lines, line, character):
    """The 1-based byte column of a UTF-16 column of a 0-based line."""
    text = lines[line] if line < len(lines) else b""
    if text.endswith(b"\r"):
        text = text[:-1]
    units, i = 0, 0
    s = text.decode("utf-8", "surrogateescape")
    for ch in s:
        if units >= character:
            break
        units += 2 if ord(ch) > 0xFFFF else 1
        i += len(ch.encode("utf-8", "surrogateescape"))
    return i + 1


def as_entry(uri, rng, sev, msg, cache):
    path = unquote(urlparse(uri).path)
    rel = os.path.relpath(path, GOLDEN)
    if rel not in cache:
        cache[rel] = file_lines(path) if os.path.exists(path) else []
    lines = cache[rel]
    start, end = rng["start"], rng["end"]
    if start == end == {"line": 0, "character": 0}:
        # the whole file, or 1:1 with no width: nnc check says which
        return (rel, None, None, sev, msg, 0)
    col = byte_col(lines, start["line"], start["character"])
    width = byte_col(lines, end["line"], end["character"]) - col
    return (rel, start["line"] + 1, col, sev, msg, width)


def lsp_entries(messages):
    out, cache = [], {}
    for m in messages:
        if m.get("method") != "textDocument/publishDiagnostics":
            continue
        uri = m["params"]["uri"]
        for d in m["params"]["diagnostics"]:
            out.append(as_entry(uri, d["range"], SEVERITY[d["severity"]], d["message"], cache))
            for r in d.get("relatedInformation", []):
                loc = r["location"]
                out.append(as_entry(loc["uri"], loc["range"], "note", r["message"], cache))
    return out


def same(e, l):
    """e from the .err file, l from the server."""
    if e[0] != l[0] or e[3:5] != l[3:5]:
        return False
    if e[1] is None:  # a whole-file diagnostic: the file's start
        return l[1] is None or (l[1], l[2]) == (1, 1)
    if l[1] is None:
        return (e[1], e[2]) == (1, 1) and e[5] in (None, 1)
    return (e[1], e[2]) == (l[1], l[2]) and (e[5] is None or e[5] == max(l[5], 1))


def by_file(entries):
    """Entries grouped by the file of each error or warning, its notes
    with it, in order."""
    groups, current = {}, None
    for e in entries:
        if e[3] != "note" or current is None:
            current = e[0]
        groups.setdefault(current, []).append(e)
    return groups


def check(name):
    with open(os.path.join(GOLDEN, name + ".err"), encoding="utf-8") as f:
        want = by_file(err_entries(f.read()))
    with open(os.path.join(GOLDEN, name + ".nn"), encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    uri = "file://" + os.path.join(GOLDEN, name + ".nn")
    msgs, status, err = session({"textDocument": {"publishDiagnostics": {"relatedInformation": True}}},
                                [(uri, text)], GOLDEN)
    got = by_file(lsp_entries(msgs))
    ok = status == 0 and want.keys() == got.keys()
    for path in want:
        w, g = want[path], got.get(path, [])
        ok = ok and len(w) == len(g) and all(same(a, b) for a, b in zip(w, g))
    if not ok:
        print("FAIL %s: the server's diagnostics differ from %s.err (exit %d)" % (name, name, status))
        for path in sorted(set(want) | set(got)):
            for a in want.get(path, []):
                print("  check: %s" % (a,))
            for b in got.get(path, []):
                print("  lsp:   %s" % (b,))
        if err.strip():
            print("  stderr: " + err.strip()[:2000])
    return ok


def main():
    names = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(GOLDEN, "*.err")))
    passed = sum(check(n) for n in names)
    print("lsp diagnostics = nnc check: %d passed, %d failed" % (passed, len(names) - passed))
    sys.exit(0 if passed == len(names) else 1)


if __name__ == "__main__":
    main()
