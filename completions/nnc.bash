# bash completion for nnc: commands, each command's flags, the values of
# --target, and .nn files (folders too, to walk into). Installed by `make
# install` as share/bash-completion/completions/nnc; or source this file.
# tests/install.sh checks it against `nnc --help`.

# .nn files and folders for the current word (or the files matching glob).
_nnc_files()
{
    local glob=${1:-*.nn} IFS=$'\n'
    COMPREPLY=($(compgen -f -X "!$glob" -- "$cur") $(compgen -d -- "$cur"))
}

_nnc()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd=${COMP_WORDS[1]} flags
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "run check emit fmt plot dump lsp --help --version" -- "$cur"))
        return
    fi
    case $prev in
        --seed | --epochs | --model | --prefix) COMPREPLY=(); return ;;
        --target) COMPREPLY=($(compgen -W "c onnx pytorch" -- "$cur")); return ;;
        --quantize) COMPREPLY=($(compgen -W "int8" -- "$cur")); return ;;
        --calibrate) COMPREPLY=(); return ;;
        --weights | --save) _nnc_files '*.safetensors'; return ;;
        --plot | --checkpoint | --resume) local IFS=$'\n'; COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -o | --output | --header) local IFS=$'\n'; COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case $cmd in
        run) flags="--seed --epochs --quiet -q --weights --save --model --plot --json --verbose --checkpoint --resume --quantize --calibrate --trace-int8" ;;
        check) flags="" ;;
        emit) flags="-o --output --target --weights --model --prefix --header --main --raw-input --keep-batchnorm --quantize --calibrate --seed --epochs" ;;
        fmt) flags="-w --check -" ;;
        lsp) COMPREPLY=($(compgen -W "--stdio" -- "$cur")); return ;;
        dump)
            if [ "$COMP_CWORD" -eq 2 ]; then
                COMPREPLY=($(compgen -W "ast ir" -- "$cur"))
                return
            fi
            flags="" ;;
        plot)
            if [ "$COMP_CWORD" -eq 2 ]; then
                COMPREPLY=($(compgen -W "activations" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "-o --output" -- "$cur"))
            fi
            return ;;
        *) COMPREPLY=(); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi
    _nnc_files
}

complete -o filenames -F _nnc nnc
