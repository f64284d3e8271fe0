"""Talking to `nnc lsp` from the tests: frame messages, run the server on a
whole session at once (it answers one message at a time, in order, so the
output is deterministic), and split its output back into messages, checking
the framing strictly."""
import json
import os
import shlex
import subprocess


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def message(obj) -> bytes:
    return frame(json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def canonical(obj) -> str:
    """One line per message, keys in the server's order."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def split_frames(out: bytes):
    """The server's messages; raises ValueError on a framing mistake."""
    msgs = []
    while out:
        head, sep, rest = out.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("output ends inside headers: %r" % out[:80])
        length = None
        for line in head.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon:
                raise ValueError("bad header line %r" % line)
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None or length > len(rest):
            raise ValueError("bad Content-Length in %r" % head)
        msgs.append(json.loads(rest[:length].decode("utf-8")))
        out = rest[length:]
    return msgs


def run_server(data: bytes, cwd: str, timeout: float = 120):
    """Runs NNC lsp (behind WRAP, e.g. valgrind) on data; returns
    (messages, exit status, stderr)."""
    cmd = shlex.split(os.environ.get("WRAP", "")) + [os.environ["NNC"], "lsp"]
    p = subprocess.run(cmd, input=data, cwd=cwd, capture_output=True, timeout=timeout)
    return split_frames(p.stdout), p.returncode, p.stderr.decode("utf-8", "replace")


def session(init_caps, opens, cwd):
    """initialize with init_caps, didOpen each (uri, text), shutdown, exit."""
    data = message({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"processId": None, "rootUri": None, "capabilities": init_caps}})
    data += message({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    for uri, text in opens:
        data += message({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                         "params": {"textDocument": {"uri": uri, "languageId": "nn",
                                                     "version": 1, "text": text}}})
    data += message({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    data += message({"jsonrpc": "2.0", "method": "exit"})
    return run_server(data, cwd)
