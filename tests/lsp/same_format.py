#!/usr/bin/env python3
"""Formatting in the editor is `nnc fmt`: for every .nn file of
tests/golden, examples/ and tests/fuzz/corpus/front, also with CRLF line
ends, the edits the server answers to textDocument/formatting, applied the
way an editor applies them (UTF-16 positions), must give exactly what
`nnc fmt FILE` prints; a file that does not parse must fail the request
and `nnc fmt` alike. NNC names the binary, WRAP may prefix it."""
import glob
import os
import subprocess
import sys

from lsp_io import message, run_server

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def offset(text, pos):
    """The str index of an LSP position (0-based line, UTF-16 column)."""
    lines = text.split("\n")
    base = sum(len(l) + 1 for l in lines[:pos["line"]])
    line, units, i = lines[pos["line"]] if pos["line"] < len(lines) else "", 0, 0
    while i < len(line) and units < pos["character"]:
        units += 2 if ord(line[i]) > 0xFFFF else 1
        i += 1
    return base + i


def apply(text, edits):
    for e in sorted(edits, key=lambda e: (e["range"]["start"]["line"],
                                          e["range"]["start"]["character"]), reverse=True):
        a, b = offset(text, e["range"]["start"]), offset(text, e["range"]["end"])
        text = text[:a] + e["newText"] + text[b:]
    return text


def session(texts):
    data = message({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})
    for i, text in enumerate(texts):
        uri = "file:///nnc-test/f%d.nn" % i
        data += message({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                         "params": {"textDocument": {"uri": uri, "languageId": "nn", "version": 1, "text": text}}})
        data += message({"jsonrpc": "2.0", "id": i + 1, "method": "textDocument/formatting",
                         "params": {"textDocument": {"uri": uri},
                                    "options": {"tabSize": 4, "insertSpaces": True}}})
    data += message({"jsonrpc": "2.0", "id": len(texts) + 1, "method": "shutdown"})
    data += message({"jsonrpc": "2.0", "method": "exit"})
    msgs, status, err = run_server(data, ROOT, timeout=600)
    replies = {m["id"]: m for m in msgs if "id" in m}
    return [replies.get(i + 1) for i in range(len(texts))], status, err


def nnc_fmt(text):
    p = subprocess.run([os.environ["NNC"], "fmt", "-"], input=text.encode("utf-8"),
                       capture_output=True)
    return p.stdout.decode("utf-8") if p.returncode == 0 else None


def main():
    files = sorted(glob.glob(os.path.join(ROOT, "tests/golden/*.nn")) +
                   glob.glob(os.path.join(ROOT, "examples/*.nn")) +
                   glob.glob(os.path.join(ROOT, "tests/fuzz/corpus/front/*.nn")))
    texts, names = [], []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        texts += [text, text.replace("\n", "\r\n")]
        names += [os.path.relpath(f, ROOT), os.path.relpath(f, ROOT) + " (CRLF)"]
    replies, status, err = session(texts)
    failed = 0 if status == 0 else 1
    for name, text, reply in zip(names, texts, replies):
        want = nnc_fmt(text)
        if reply is None:
            ok, got = False, "no answer"
        elif want is None:
            ok, got = "error" in reply, reply
        else:
            got = apply(text, reply["result"]) if "result" in reply else reply
            ok = got == want
        if not ok:
            failed += 1
            print("FAIL %s: formatting in the server differs from nnc fmt:\n  got %r" % (name, got))
    if err.strip():
        print("stderr: " + err.strip()[:2000])
    print("lsp formatting = nnc fmt: %d passed, %d failed" % (len(texts) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
