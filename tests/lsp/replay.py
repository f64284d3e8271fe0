#!/usr/bin/env python3
"""Replays recorded JSON-RPC sessions against `nnc lsp` and compares what it
answers with the transcript. A transcript (tests/lsp/*.jsonrpc) is lines of

    # a comment
    --> {...}          a message the client sends, framed with Content-Length
                       (sent exactly as written, so it may be broken JSON)
    -->raw "..."       bytes sent as they are, written as a JSON string
                       ("Content-Length: 2\\r\\n\\r\\n{}"), for framing errors
    <-- {...}          a message the server must send, in this order
    <-- exit N         the server's exit status

The client's lines are sent at once; the server's answers follow them in the
file. --bless rewrites the <-- lines from what the server does (review the
diff). Runs the server in tests/lsp; NNC names it, WRAP may prefix it.
@HERE@ stands for the path of tests/lsp, in what is sent and in what comes
back, so a session can name real files (tests/lsp/data/) and still read the
same on every machine."""
import json
import os
import sys
from urllib.parse import quote

from lsp_io import canonical, frame, run_server

HERE = os.path.dirname(os.path.abspath(__file__))


def here_in(text):
    return text.replace("@HERE@", HERE)


def here_out(text):
    """The server's spelling of HERE (in its URIs, percent-encoded) back to @HERE@."""
    return text.replace(quote(HERE), "@HERE@").replace(HERE, "@HERE@")


def parse(path):
    keep, data, expected = [], b"", []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("<-- "):
                expected.append(line[4:])
                continue
            keep.append(line)
            if line.startswith("-->raw "):
                data += here_in(json.loads(line[7:])).encode("utf-8")
            elif line.startswith("--> "):
                data += frame(here_in(line[4:]).encode("utf-8"))
            elif line and not line.startswith("#"):
                raise SystemExit("%s:%d: not a transcript line: %s" % (path, n, line))
    while keep and keep[-1] == "":
        keep.pop()
    return keep, data, expected


def replay(path, bless):
    keep, data, expected = parse(path)
    try:
        msgs, status, err = run_server(data, HERE)
    except ValueError as e:
        print("FAIL %s: %s" % (os.path.basename(path), e))
        return False
    actual = [here_out(canonical(m)) for m in msgs] + ["exit %d" % status]
    if bless:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(keep + [""] + ["<-- " + a for a in actual]) + "\n")
        return True
    want = []
    for e in expected:
        want.append(e if e.startswith("exit ") else canonical(json.loads(e)))
    if want == actual:
        return True
    print("FAIL %s:" % os.path.basename(path))
    for i in range(max(len(want), len(actual))):
        w = want[i] if i < len(want) else "(nothing)"
        a = actual[i] if i < len(actual) else "(nothing)"
        if w != a:
            print("  message %d\n    expected: %s\n    got:      %s" % (i + 1, w, a))
    if err.strip():
        print("  stderr: " + err.strip()[:2000])
    return False


def main():
    bless = "--bless" in sys.argv
    files = [a for a in sys.argv[1:] if a != "--bless"]
    passed = sum(replay(f, bless) for f in files)
    if bless:
        print("blessed %d transcripts: review with 'git diff tests/lsp'" % passed)
    print("lsp transcripts: %d passed, %d failed" % (passed, len(files) - passed))
    sys.exit(0 if passed == len(files) else 1)


if __name__ == "__main__":
    main()
