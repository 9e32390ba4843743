# bash completion for netevd                                    -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/netevd.

_netevd_events="carrier no-carrier link-added link-removed address-added address-removed address-dad-failed mtu routes off dormant degraded-carrier degraded enslaved routable missing configuring configured failed linger unmanaged unavailable disconnected prepare config need-auth ip-config ip-check secondaries activated deactivating pending initialized manager dhcp4-change dhcp6-change connectivity-change hostname"

_netevd_links() {
    local d
    for d in /sys/class/net/*; do [[ -e $d ]] && printf '%s\n' "${d##*/}"; done
}

_netevd() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    fi
    local commands="run validate test hook-runner version help status list show events reload trigger"
    local client_opts="--json --endpoint --token --config -c --help"

    case $prev in
        -c|--config) COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur")); return ;;
        --link) COMPREPLY=($(compgen -W "$(_netevd_links)" -- "$cur")); return ;;
        --event) COMPREPLY=($(compgen -W "$_netevd_events" -- "$cur")); return ;;
        --since) COMPREPLY=($(compgen -W "30s 5m 10m 1h 2h 1d" -- "$cur")); return ;;
        --endpoint) COMPREPLY=($(compgen -W "http://127.0.0.1:9090" -- "$cur")); return ;;
        --token|--limit|-n|--ip) return ;;
    esac

    # the command: the first word that is not an option or an option's value
    local i cmd="" n=0 args=()
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -c|--config|--link|--event|--since|--endpoint|--token|--limit|-n|--ip) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${words[i]}; else args+=("${words[i]}"); fi ;;
        esac
    done
    n=${#args[@]}

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "--help --version --config" -- "$cur"))
        else COMPREPLY=($(compgen -W "$commands" -- "$cur")); fi
        return
    fi
    case $cmd in
        help) ((n == 0)) && COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        run|hook-runner) COMPREPLY=($(compgen -W "--config --help" -- "$cur")) ;;
        validate) COMPREPLY=($(compgen -W "--config --json --migrate --help" -- "$cur")) ;;
        version) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
        test)
            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "--link --event --ip --config --help" -- "$cur"))
            else COMPREPLY=($(compgen -f -- "$cur")); fi ;;
        status|reload) COMPREPLY=($(compgen -W "$client_opts" -- "$cur")) ;;
        list)
            if [[ $cur != -* ]] && ((n == 0)); then COMPREPLY=($(compgen -W "interfaces routes rules scripts" -- "$cur"))
            else COMPREPLY=($(compgen -W "$client_opts" -- "$cur")); fi ;;
        show)
            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$client_opts" -- "$cur"))
            elif ((n == 0)); then COMPREPLY=($(compgen -W "interface" -- "$cur"))
            elif ((n == 1)); then COMPREPLY=($(compgen -W "$(_netevd_links)" -- "$cur")); fi ;;
        events) COMPREPLY=($(compgen -W "--follow -f --since --link --event --limit -n --utc $client_opts" -- "$cur")) ;;
        trigger)
            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$client_opts" -- "$cur"))
            elif ((n == 0)); then COMPREPLY=($(compgen -W "$(_netevd_links)" -- "$cur"))
            elif ((n == 1)); then COMPREPLY=($(compgen -W "$_netevd_events" -- "$cur")); fi ;;
    esac
}
complete -F _netevd netevd
