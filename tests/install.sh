#!/bin/bash
# make install / make uninstall into a temporary DESTDIR: the exact file
# list, the installed nnc runs, its man page renders (man, else mandoc) and
# lints clean (mandoc -T lint), the bash completion completes commands,
# flags, --target values and .nn files and knows every command and flag of
# `nnc --help`; uninstall leaves no file behind. NNC names the built binary
# (its folder is the BUILD that make installs from).
set -u
nnc=${NNC:?set NNC to the nnc binary}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$(dirname "$nnc")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest prefix=/usr/local
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# BUILD and BLAS as the binary was built, so that installing rebuilds nothing.
blas=$(cat "$build/blas.stamp" 2>/dev/null || echo none)
make_it() {
    make --no-print-directory -s -C "$root" "$@" BUILD="$build" BLAS="$blas" PREFIX=$prefix DESTDIR="$dest"
}

make_it install >"$tmp/log" 2>&1 || { bad "make install: $(cat "$tmp/log")"; echo "install: $pass passed, $fail failed"; exit 1; }
p=.$prefix
expected="$p/bin/nnc
$p/share/bash-completion/completions/nnc
$p/share/man/man1/nnc.1
$p/share/nnc/editors/vim/README.md
$p/share/nnc/editors/vim/ftdetect/nn.vim
$p/share/nnc/editors/vim/ftplugin/nn.vim
$p/share/nnc/editors/vim/syntax/nn.vim
$p/share/nnc/editors/vscode/README.md
$p/share/nnc/editors/vscode/extension.js
$p/share/nnc/editors/vscode/language-configuration.json
$p/share/nnc/editors/vscode/package.json
$p/share/nnc/editors/vscode/syntaxes/nn.tmLanguage.json"
got=$(cd "$dest" && find . ! -type d | LC_ALL=C sort)
[ "$got" = "$(echo "$expected" | LC_ALL=C sort)" ] && ok || bad "installed files:"$'\n'"$got"
[ -x "$dest$prefix/bin/nnc" ] && [ "$(stat -c %a "$dest$prefix/share/man/man1/nnc.1")" = 644 ] && ok ||
    bad "modes of the installed files"

# The installed binary runs.
version=$("$dest$prefix/bin/nnc" --version 2>&1)
[ "$version" = "$("$nnc" --version)" ] && [[ $version == "nnc "* ]] && ok || bad "installed nnc --version: $version"

# The man page: lints clean, renders with man (MANPATH as a user would set
# it) or mandoc, and documents every command.
man1=$dest$prefix/share/man/man1/nnc.1
if command -v mandoc >/dev/null 2>&1; then
    lint=$(mandoc -T lint "$man1" 2>&1) && [ -z "$lint" ] && ok || bad "mandoc -T lint: $lint"
else
    [ "${CI:-}" = true ] && bad "mandoc is not installed" || echo "skip: mandoc -T lint (mandoc not installed)"
fi
if command -v man >/dev/null 2>&1; then
    page=$(MANPATH=$dest$prefix/share/man MANWIDTH=80 man nnc 2>&1 | col -b)
else
    page=$(mandoc -T utf8 "$man1" 2>&1 | col -b)
fi
for word in "nnc run" "nnc check" "nnc emit" "nnc fmt" "nnc dump" "EXIT STATUS" "NNC_MEMORY_LIMIT"; do
    grep -q "$word" <<<"$page" || { bad "man nnc: no '$word' in:"$'\n'"$(head -20 <<<"$page")"; break; }
done && ok

# The completion, sourced in a clean bash, run as bash would.
mkdir -p "$tmp/work/sub" && touch "$tmp/work/a.nn" "$tmp/work/b.txt" "$tmp/work/w.safetensors"
complete_words() {
    (cd "$tmp/work" && bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nnc
        printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "' _ \
        "$dest$prefix/share/bash-completion/completions/nnc" "$@")
}
check_completion() { # WANT WORDS...
    local want=$1; shift
    local got; got=$(complete_words "$@")
    [ "$got" = "$want" ] && ok || bad "completion of '$*': '$got', expected '$want'"
}
check_completion "fmt " nnc f
check_completion "check " nnc ch
check_completion "--check " nnc fmt --c
check_completion "--epochs " nnc run x.nn --e
check_completion "--json " nnc run --seed 3 --j
check_completion "onnx " nnc emit x.nn --target o
check_completion "ast ir " nnc dump ""
check_completion "a.nn sub " nnc run ""
check_completion "a.nn sub " nnc fmt -w ""
check_completion "sub w.safetensors " nnc run x.nn --weights ""
# Every command and flag of --help completes (for its command).
commands=$("$nnc" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | grep -v '^nnc$' | sort -u)
for c in $commands; do
    [[ " $(complete_words nnc "") " == *" $c "* ]] || bad "completion lacks the command '$c'"
done
cmd=()
flags_ok=1
while IFS= read -r line; do
    case $line in
        "  plot "*) cmd=(plot activations) ;;
        "  "[a-z]*) cmd=("$(echo "$line" | awk '{print $1}')") ;;
        "      -"*)
            # the option column: "--seed N, --epochs N", "-o OUT.c", "--quiet, -q"
            column=$(echo "$line" | sed 's/^ *//; s/  .*//')
            for flag in $(echo "$column" | grep -o -- '-\{1,2\}[a-z][a-z0-9-]*'); do
                [[ " $(complete_words nnc "${cmd[@]}" "$flag") " == *" $flag "* ]] ||
                    { bad "completion of 'nnc ${cmd[*]} $flag' lacks $flag"; flags_ok=0; }
            done ;;
    esac
done < <("$nnc" --help | sed -n '/^commands:/,/^$/p')
[ "$flags_ok" = 1 ] && ok

# Uninstall: nothing left but the empty system folders.
make_it uninstall >"$tmp/log" 2>&1 || bad "make uninstall: $(cat "$tmp/log")"
left=$(cd "$dest" && find . ! -type d)
[ -z "$left" ] && [ ! -e "$dest$prefix/share/nnc" ] && ok || bad "left after uninstall: $left"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
