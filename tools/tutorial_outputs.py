"""Keeps docs/tutorial.md truthful: every code block that starts with a line
`$ build/nnc run examples/X.nn` must contain exactly what that command
prints (also with flags or piped through grep, for an excerpt). `--check` reports stale blocks (exit 1); without it, the blocks are
rewritten from real runs. A block right after the line VARIES is refreshed
but not checked: its numbers depend on the BLAS build (large products go to
OpenBLAS, whose summation order differs by CPU). Run from the repository root."""
import re
import subprocess
import sys

DOC = "docs/tutorial.md"
VARIES = "<!-- output varies with the BLAS build -->"
BLOCK = re.compile(r"(" + re.escape(VARIES) + r"\n)?```\n\$ (build/nnc run (examples/[\w./-]+\.nn)(?: -q)?(?: \| grep [^\n]*)?)\n(.*?)```", re.S)


def real_output(command):
    """What the command prints; a command with flags or a pipe (an excerpt:
    `build/nnc run examples/x.nn -q | grep -E '...'`) runs in the shell."""
    if command.endswith(".nn"):
        run = subprocess.run(command.split(), capture_output=True, text=True)
    else:
        run = subprocess.run(command, shell=True, capture_output=True, text=True)
    return run.stdout + run.stderr


def main():
    check = "--check" in sys.argv
    text = open(DOC).read()
    stale = []
    changed = []

    def refresh(match):
        marker, command, shown = match.group(1) or "", match.group(2), match.group(4)
        actual = real_output(command)
        if actual != shown:
            changed.append(command)
            if not marker:
                stale.append(command)
        return f"{marker}```\n$ {command}\n{actual}```"

    new_text = BLOCK.sub(refresh, text)
    count = len(BLOCK.findall(text))
    if check:
        for command in stale:
            print(f"FAIL {DOC}: the output shown for '{command}' is stale "
                  "(run: python3 tools/tutorial_outputs.py)")
        print(f"tutorial: {count - len(stale)} passed, {len(stale)} failed")
        return 1 if stale else 0
    open(DOC, "w").write(new_text)
    print(f"refreshed {len(changed)} of {count} blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
