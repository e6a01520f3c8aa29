# bash completion for isopool (dist/completion/; installed as
# share/bash-completion/completions/isopool). The commands are listed here;
# the options are read from `isopool help serve` and `isopool help run`,
# so they never drift from the binary.

_isopool() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null; then
    _init_completion -n = || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  local cmd="" i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      serve | run) cmd=${words[i]}; break ;;
    esac
  done

  # an option's value
  case $prev in
    --modules | --data | --root | --code-cache)
      COMPREPLY=($(compgen -d -- "$cur"))
      return ;;
    --import-map | --kv-path | --tls-cert | --tls-key | --admin-token-file | \
      --config)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --log-format)
      COMPREPLY=($(compgen -W "text json" -- "$cur"))
      return ;;
    --log-level)
      COMPREPLY=($(compgen -W "debug info warn error" -- "$cur"))
      return ;;
    --kv-sync)
      COMPREPLY=($(compgen -W "full nometa none" -- "$cur"))
      return ;;
    --listen | --admin | --metrics | --admin-token | --workers | \
      --processes | --spare-processes | --process-max-mb | \
      --max-inflight-per-worker | --max-queue | --max-message | \
      --timeout | --cpu-ms | --grace-ms | --heap-mb | --code-cache-mb | \
      --background-ms | --spare-isolates | --recycle-after-jobs | \
      --heap-soft-mb | --recycle-heap-mb | --idle-timeout | --op-threads | \
      --fetch-max-mb | --kv-max-mb)
      return ;;
  esac

  if [[ -z $cmd ]]; then
    if [[ ${words[cword - 1]} == help ]]; then
      COMPREPLY=($(compgen -W "serve run" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "serve run help --help --version" -- "$cur"))
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    local opts
    opts=$("${words[0]}" help "$cmd" 2>/dev/null |
      grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u)
    COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
    return
  fi
  if [[ $cmd == run ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _isopool isopool
