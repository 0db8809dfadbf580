/**
 * `sockd completions bash|zsh|fish`: a completion script for the shell.
 *
 * Subcommands and their options are written into the script; the commands a
 * server offers are asked of the live server each time (`sockd call help
 * --json`, names extracted with jq when it is installed, else with sed or
 * fish's `string`), so plugins complete too. A `-s/--socket` already typed on
 * the line is passed along.
 *
 * @module
 */

import {
  optionWords,
  SED_FLAGS,
  SED_NAMES,
  SHELLS,
  shQuote,
  type SubcommandSpec,
  valueOptions,
} from "./_completions_common.ts";
import { fish } from "./_completions_fish.ts";

export { SHELLS } from "./_completions_common.ts";
export type { OptionSpec, Shell, SubcommandSpec } from "./_completions_common.ts";

/** Options of {@linkcode completionScript}. */
export interface CompletionOptions {
  /**
   * The argv that runs the sockd writing the script. The script runs the word
   * typed (`sockd` on PATH, `./dist/sockd`) when it is a command; when it is
   * not one — an alias, which a script cannot call — it runs this instead.
   */
  self?: readonly string[];
}

/**
 * The completion script for `shell`, or throws a `RangeError` naming the
 * shells there are scripts for.
 *
 * @example
 * ```ts
 * import { completionScript } from "./completions.ts";
 * const script = completionScript("bash", [{ name: "call", options: [] }]);
 * console.assert(script.includes("complete -F _sockd sockd"));
 * ```
 */
export function completionScript(
  shell: string,
  subcommands: readonly SubcommandSpec[],
  options: CompletionOptions = {},
): string {
  const self = options.self ?? [];
  switch (shell) {
    case "bash":
      return bash(subcommands, self);
    case "zsh":
      return zsh(subcommands, self);
    case "fish":
      return fish(subcommands, self);
    default:
      throw new RangeError(`No completion script for "${shell}" (use ${SHELLS.join(", ")})`);
  }
}

function bash(subs: readonly SubcommandSpec[], self: readonly string[]): string {
  const names = subs.map((s) => s.name).join(" ");
  const arms = subs.map((s) => `    ${s.name}) opts="${optionWords(s)}" ;;`).join("\n");
  return `# bash completion for sockd. Load it with:
#   source <(sockd completions bash)
# or install it:
#   sockd completions bash > ~/.local/share/bash-completion/completions/sockd

# The sockd that wrote this script: run when the word typed is not a command (an alias).
_sockd_self=(${self.map(shQuote).join(" ")})

# Runs "sockd call ARGS..." against the socket named on the line, if any,
# trusting the owner named there (--trust-owner) as the call itself would.
_sockd_server() {
  local -a sock=() trust=() prog=("\${COMP_WORDS[0]}")
  case $(type -t "\${COMP_WORDS[0]}") in
    file|function) ;;
    *) prog=("\${_sockd_self[@]}") ;;
  esac
  ((\${#prog[@]})) || return 1
  local i w
  for ((i = 1; i < \${#COMP_WORDS[@]}; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -s || $w == --socket ]]; then
      if [[ \${COMP_WORDS[i+1]} == = ]]; then sock=(--socket "\${COMP_WORDS[i+2]}"); else sock=(--socket "\${COMP_WORDS[i+1]}"); fi
      sock[1]=\${sock[1]/#\\~/$HOME}
    fi
    if [[ $w == --trust-owner ]]; then
      if [[ \${COMP_WORDS[i+1]} == = ]]; then trust=(--trust-owner "\${COMP_WORDS[i+2]}"); else trust=(--trust-owner "\${COMP_WORDS[i+1]}"); fi
    fi
  done
  "\${prog[@]}" call "\${sock[@]}" "\${trust[@]}" --no-stdin --timeout 2s "$@" </dev/null 2>/dev/null
}

# The names of the server's commands, one per line.
_sockd_commands() {
  local out
  out=$(_sockd_server help --json) || return 0
  if command -v jq >/dev/null 2>&1; then
    printf '%s\\n' "$out" | jq -r '.[].name'
  else
    printf '%s\\n' "$out" | sed -n '${SED_NAMES}'
  fi
}

# The flags of the server's command $1, as --name, one per line.
_sockd_flags() {
  local out
  out=$(_sockd_server help --json "$1") || return 0
  if command -v jq >/dev/null 2>&1; then
    printf '%s\\n' "$out" | jq -r '.flags | keys[] | "--" + .'
  else
    printf '%s\\n' "$out" | sed -n '${SED_FLAGS}'
  fi
}

_sockd() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local sub="" cmd="" i w opts=""
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $w in
      ${valueOptions(subs).join("|") || "--never--"})
        ((i++))
        [[ \${COMP_WORDS[i]} == = ]] && ((i++))
        continue ;;
      -*) continue ;;
    esac
    if [[ -z $sub ]]; then
      sub=$w
    elif [[ $sub == call ]]; then
      cmd=$w
      break
    fi
  done
  [[ $prev == = ]] && prev=\${COMP_WORDS[COMP_CWORD-2]}
  case $prev in
    -s|--socket|-p|--plugins)
      [[ -z $cmd ]] && { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return 0; } ;;
  esac
  if [[ -z $sub ]]; then
    COMPREPLY=($(compgen -W "${names} --help --version" -- "$cur"))
    return 0
  fi
  case $sub in
${arms}
  esac
  if [[ $sub == call && -n $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$(_sockd_flags "$cmd")" -- "$cur"))
    elif [[ $cmd == help ]]; then
      COMPREPLY=($(compgen -W "$(_sockd_commands)" -- "$cur"))
    fi
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $sub == call ]]; then
    COMPREPLY=($(compgen -W "$(_sockd_commands)" -- "$cur"))
  elif [[ $sub == completions ]]; then
    COMPREPLY=($(compgen -W "${SHELLS.join(" ")}" -- "$cur"))
  fi
  return 0
}
complete -F _sockd sockd
`;
}

function zsh(subs: readonly SubcommandSpec[], self: readonly string[]): string {
  const described = subs.map((s) => `    ${shQuote(`${s.name}:${s.description ?? ""}`)}`).join("\n");
  const arms = subs.map((s) => `      ${s.name}) opts=(${optionWords(s)}) ;;`).join("\n");
  return `#compdef sockd
# zsh completion for sockd. Load it with:
#   source <(sockd completions zsh)
# or install it as _sockd in a directory of your $fpath:
#   sockd completions zsh > ~/.zfunc/_sockd

# The sockd that wrote this script: run when the word typed is not a command (an alias).
_sockd_self=(${self.map(shQuote).join(" ")})

# Runs "sockd call ARGS..." against the socket named on the line, if any,
# trusting the owner named there (--trust-owner) as the call itself would.
_sockd_server() {
  local -a sock trust prog
  local i
  prog=(\${words[1]})
  case $(whence -w -- \${words[1]}) in
    *': command'|*': function') ;;
    *) prog=($_sockd_self) ;;
  esac
  (( $#prog )) || return 1
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      -s|--socket) sock=(--socket \${~words[i+1]}) ;;
      --socket=*) sock=(--socket \${~words[i]#--socket=}) ;;
      --trust-owner) trust=(--trust-owner \${words[i+1]}) ;;
      --trust-owner=*) trust=(--trust-owner \${words[i]#--trust-owner=}) ;;
    esac
  done
  $prog call $sock $trust --no-stdin --timeout 2s "$@" </dev/null 2>/dev/null
}

_sockd_commands() {
  local out
  out=$(_sockd_server help --json) || return 0
  if (( $+commands[jq] )); then
    print -r -- "$out" | jq -r '.[].name'
  else
    print -r -- "$out" | sed -n '${SED_NAMES}'
  fi
}

_sockd_flags() {
  local out
  out=$(_sockd_server help --json "$1") || return 0
  if (( $+commands[jq] )); then
    print -r -- "$out" | jq -r '.flags | keys[] | "--" + .'
  else
    print -r -- "$out" | sed -n '${SED_FLAGS}'
  fi
}

_sockd() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} sub= cmd= i w
  local -a opts subcommands
  subcommands=(
${described}
  )
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    case $w in
      ${valueOptions(subs).join("|") || "--never--"}) ((i++)); continue ;;
      -*) continue ;;
    esac
    if [[ -z $sub ]]; then
      sub=$w
    elif [[ $sub == call ]]; then
      cmd=$w
      break
    fi
  done
  if [[ -z $cmd && ( $prev == -s || $prev == --socket || $prev == -p || $prev == --plugins ) ]]; then
    _files
    return
  fi
  if [[ -z $sub ]]; then
    if [[ $cur == -* ]]; then compadd -- --help --version; else _describe -t commands 'sockd command' subcommands; fi
    return
  fi
  case $sub in
${arms}
  esac
  if [[ $sub == call && -n $cmd ]]; then
    if [[ $cur == -* ]]; then
      compadd -- \${(f)"$(_sockd_flags $cmd)"}
    elif [[ $cmd == help ]]; then
      compadd -- \${(f)"$(_sockd_commands)"}
    fi
  elif [[ $cur == -* ]]; then
    compadd -- $opts
  elif [[ $sub == call ]]; then
    compadd -- \${(f)"$(_sockd_commands)"}
  elif [[ $sub == completions ]]; then
    compadd -- ${SHELLS.join(" ")}
  fi
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _sockd "$@"
else
  compdef _sockd sockd
fi
`;
}
