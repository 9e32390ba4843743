# bash completion for netevd (the one completion file of the project; zsh uses it too, see _netevd)
_netevd() {
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="run status list show events reload trigger validate test version"
    local events="carrier no-carrier link-added link-removed address-added address-removed routes mtu
        off dormant degraded-carrier degraded enslaved routable missing configuring configured failed
        linger unmanaged prepare config need-auth ip-config ip-check secondaries activated deactivating
        disconnected unavailable manager"
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac
    done
    case $prev in
        -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --link) COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
        --event) COMPREPLY=($(compgen -W "$events" -- "$cur")); return ;;
        --endpoint|--token|--limit|--ip) return ;;
    esac
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands -c --config -h --help" -- "$cur"))
        return
    fi
    case $cmd in
        list) COMPREPLY=($(compgen -W "interfaces routes rules scripts --json" -- "$cur")) ;;
        show) COMPREPLY=($(compgen -W "interface $(ls /sys/class/net 2>/dev/null) --json" -- "$cur")) ;;
        events) COMPREPLY=($(compgen -W "--follow --link --event --limit --json" -- "$cur")) ;;
        trigger)
            if [[ $prev == trigger ]]; then COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
            else COMPREPLY=($(compgen -W "$events" -- "$cur")); fi ;;
        test) COMPREPLY=($(compgen -f -W "--link --event --ip -c --config" -- "$cur")) ;;
        run) COMPREPLY=($(compgen -W "-c --config" -- "$cur")) ;;
        validate) COMPREPLY=($(compgen -W "-c --config --migrate" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "--json --endpoint --token" -- "$cur")) ;;
    esac
}
complete -F _netevd netevd
