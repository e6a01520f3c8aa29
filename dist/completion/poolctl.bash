# bash completion for poolctl (dist/completion/; installed as
# share/bash-completion/completions/poolctl). The commands and options are
# read from `poolctl --help`, so they never drift from the binary.

_poolctl() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null; then
    _init_completion -n = || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  local help
  help=$("${words[0]}" --help 2>/dev/null)
  # the commands: the word after "poolctl [OPTIONS]" in the usage lines
  local cmds
  cmds=$(printf '%s\n' "$help" |
    sed -n 's/^.*poolctl \[OPTIONS\] \([a-z][a-z]*\).*$/\1/p' | sort -u)

  local cmd="" i
  for ((i = 1; i < cword; i++)); do
    if [[ ${words[i]} != -* ]] && [[ " $cmds " == *" ${words[i]} "* ]]; then
      case ${words[i - 1]} in
        --url | --timeout | --job-timeout | --cpu-ms | --permissions | \
          --admin | --admin-token | --admin-token-file | --watch | --count)
          continue ;;
      esac
      cmd=${words[i]}
      break
    fi
  done

  case $prev in
    --admin-token-file)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --url | --timeout | --job-timeout | --cpu-ms | --permissions | \
      --admin | --admin-token | --watch | --count | --module | --export | \
      --grace)
      return ;;
  esac

  if [[ $cur == -* ]]; then
    local opts
    opts=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  case $cmd in
    "")
      COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
    help)
      COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
    eval)
      COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _poolctl poolctl
