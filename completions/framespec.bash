# bash completion for framespec and echod (installed as
# /usr/share/bash-completion/completions/framespec and .../echod)

_framespec_cases()
{
    framespec list 2>/dev/null | awk '{print $1}'
}

_framespec()
{
    local cur prev cmd opts
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    cmd=${COMP_WORDS[1]}
    local shared="--target --exec --framing --max-frame --timeout --seed --timeout-scale --help"
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "run list replay import shrink proxy fuzz bench report --version --help" -- "$cur"))
        return
    fi
    case $prev in
        --framing)
            COMPREPLY=($(compgen -W "0 raw 1 u8 2 u16 u24 4 u32 u64 u16le u24le u32le u64le varint line" -- "$cur"))
            return ;;
        --case|--exclude)
            COMPREPLY=($(compgen -W "$(_framespec_cases)" -- "$cur"))
            return ;;
        --junit|--json|--html|--expect|--write-expect|--pcap)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --repro-dir|--out)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --coverage)
            COMPREPLY=($(compgen -W "afl afl-blind" -- "$cur"))
            return ;;
        --oracle)
            COMPREPLY=($(compgen -W "echo capture close" -- "$cur"))
            return ;;
        --format)
            COMPREPLY=($(compgen -W "pcap strace" -- "$cur"))
            return ;;
        --record)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        -o)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --target|--exec|--max-frame|--timeout|--seed|--timeout-scale|--idle-timeout|--keepalive|\
        --user-timeout|--label|--repeat|--conns|--cycles|--loss|--seconds|--runs|--jobs|--until|\
        --max-findings|--depth|--size|--duration|--warmup|--rate|--title|--concurrency|--server|\
        --connection|--keep|--reference|--listen|--upstream|--name|--api|--toxic|--max-conns)
            return ;;
    esac
    case $cmd in
        run) opts="$shared --idle-timeout --case --exclude --junit --json --html --label --repeat
                   --strict --expect --write-expect --conns --cycles --repro-dir --keep-logs
                   --keepalive --user-timeout --netns --loss -v" ;;
        list) opts="--markdown --requirements --help" ;;
        replay) opts="$shared --idle-timeout --repeat --pcap --pcap-optional --keep-logs -v" ;;
        import) opts="--framing --max-frame --server --connection --all --oracle --format -o
                      --help" ;;
        shrink) opts="$shared --idle-timeout -o --keep --reference --no-reference -v" ;;
        proxy) opts="--listen --upstream --name --api --framing --max-frame --toxic --record
                     --oracle --max-conns --seconds --list-toxics --help" ;;
        fuzz) opts="$shared --idle-timeout --keepalive --user-timeout --seconds --runs --jobs
                    --concurrency --coverage --out
                    --pcap --until --max-findings -v" ;;
        bench) opts="$shared --conns --depth --size --duration --warmup --rate --label --json
                     --keep-logs" ;;
        report) opts="--title --help" ;;
    esac
    if [[ $cur == -* || $cmd == list ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_echod()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --framing)
            COMPREPLY=($(compgen -W "0 raw 1 u8 2 u16 u24 4 u32 u64 u16le u24le u32le u64le varint line" -- "$cur"))
            return ;;
        --listen|--max-frame|--idle-timeout|--keepalive|--user-timeout|--hwm|--threads)
            return ;;
    esac
    COMPREPLY=($(compgen -W "--listen --framing --max-frame --idle-timeout --keepalive
                             --user-timeout --hwm --threads --verbose --version --help" -- "$cur"))
}

complete -F _framespec framespec
complete -F _echod echod
