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

/** The shells a script can be written for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** One of {@linkcode SHELLS}. */
export type Shell = typeof SHELLS[number];

/** An option of a subcommand, as the script needs to know it. */
export interface OptionSpec {
  /** Its spellings, e.g. `["-s", "--socket"]`. */
  names: string[];
  /** Whether it takes a value (so the next word is not a command). */
  takesValue: boolean;
  /** One line of help (zsh and fish show it). */
  description?: string;
}

/** A subcommand of sockd. */
export interface SubcommandSpec {
  name: string;
  description?: string;
  options: OptionSpec[];
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
export function completionScript(shell: string, subcommands: readonly SubcommandSpec[]): string {
  switch (shell) {
    case "bash":
      return bash(subcommands);
    case "zsh":
      return zsh(subcommands);
    case "fish":
      return fish(subcommands);
    default:
      throw new RangeError(`No completion script for "${shell}" (use ${SHELLS.join(", ")})`);
  }
}

/** Spellings of every option that takes a value, across subcommands. */
function valueOptions(subs: readonly SubcommandSpec[]): string[] {
  return [...new Set(subs.flatMap((s) => s.options.filter((o) => o.takesValue).flatMap((o) => o.names)))]
    .sort();
}

function optionWords(sub: SubcommandSpec): string {
  return [...sub.options.flatMap((o) => o.names), "--help"].join(" ");
}

/** sed programs for machines without jq (they read `sockd call`'s indented JSON). */
const SED_NAMES = `s/^    "name": "\\([^"]*\\)".*/\\1/p`;
const SED_FLAGS = `/^  "flags": {/,/^  }/s/^    "\\([^"]*\\)": {.*/--\\1/p`;

function bash(subs: readonly SubcommandSpec[]): string {
  const names = subs.map((s) => s.name).join(" ");
  const arms = subs.map((s) => `    ${s.name}) opts="${optionWords(s)}" ;;`).join("\n");
  return `# bash completion for sockd. Load it with:
#   source <(sockd completions bash)
# or install it:
#   sockd completions bash > ~/.local/share/bash-completion/completions/sockd

# Runs "sockd call ARGS..." against the socket named on the line, if any,
# trusting the owner named there (--trust-owner) as the call itself would.
_sockd_server() {
  local -a sock=() trust=()
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
  "\${COMP_WORDS[0]}" call "\${sock[@]}" "\${trust[@]}" --no-stdin --timeout 2s "$@" </dev/null 2>/dev/null
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

function zsh(subs: readonly SubcommandSpec[]): string {
  const described = subs.map((s) => `    ${zshQuote(`${s.name}:${s.description ?? ""}`)}`).join("\n");
  const arms = subs.map((s) => `      ${s.name}) opts=(${optionWords(s)}) ;;`).join("\n");
  return `#compdef sockd
# zsh completion for sockd. Load it with:
#   source <(sockd completions zsh)
# or install it as _sockd in a directory of your $fpath:
#   sockd completions zsh > ~/.zfunc/_sockd

# Runs "sockd call ARGS..." against the socket named on the line, if any,
# trusting the owner named there (--trust-owner) as the call itself would.
_sockd_server() {
  local -a sock trust
  local i
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      -s|--socket) sock=(--socket \${~words[i+1]}) ;;
      --socket=*) sock=(--socket \${~words[i]#--socket=}) ;;
      --trust-owner) trust=(--trust-owner \${words[i+1]}) ;;
      --trust-owner=*) trust=(--trust-owner \${words[i]#--trust-owner=}) ;;
    esac
  done
  \${words[1]} call $sock $trust --no-stdin --timeout 2s "$@" </dev/null 2>/dev/null
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

function fish(subs: readonly SubcommandSpec[]): string {
  const lines: string[] = [];
  for (const s of subs) {
    lines.push(
      `complete -c sockd -n __sockd_wants_subcommand -a ${s.name} -d ${fishQuote(s.description ?? "")}`,
    );
    for (const o of s.options) {
      const long = o.names.find((n) => n.startsWith("--"));
      const short = o.names.find((n) => /^-[^-]$/.test(n));
      const parts = [`complete -c sockd -n '__sockd_in_options ${s.name}'`];
      if (long) parts.push(`-l ${long.slice(2)}`);
      if (short) parts.push(`-s ${short.slice(1)}`);
      if (o.takesValue) parts.push("-r");
      if (o.description) parts.push(`-d ${fishQuote(o.description)}`);
      lines.push(parts.join(" "));
    }
  }
  return `# fish completion for sockd. Load it with:
#   sockd completions fish | source
# or install it:
#   sockd completions fish > ~/.config/fish/completions/sockd.fish

# Prints the subcommand and, after "call", the server command on the line so far.
function __sockd_state
    set -l tokens (commandline -opc)
    set -l sub
    set -l cmd
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case ${valueOptions(subs).join(" ") || "--never--"}
                set skip 1
                continue
            case '-*'
                continue
        end
        if test -z "$sub"
            set sub $w
        else if test "$sub" = call
            set cmd $w
            break
        end
    end
    echo $sub
    echo $cmd
end

function __sockd_wants_subcommand
    set -l state (__sockd_state)
    test -z "$state[1]"
end

function __sockd_in_options
    set -l state (__sockd_state)
    test "$state[1]" = $argv[1]; and test -z "$state[2]"
end

function __sockd_wants_command
    set -l state (__sockd_state)
    test "$state[1]" = call; and test -z "$state[2]"; and not string match -q -- '-*' (commandline -ct)
end

function __sockd_wants_help_arg
    set -l state (__sockd_state)
    test "$state[1]" = call; and test "$state[2]" = help; and not string match -q -- '-*' (commandline -ct)
end

function __sockd_wants_flag
    set -l state (__sockd_state)
    test "$state[1]" = call; and test -n "$state[2]"; and string match -q -- '-*' (commandline -ct)
end

# Runs "sockd call ARGS..." against the socket named on the line, if any,
# trusting the owner named there (--trust-owner) as the call itself would.
function __sockd_server
    set -l tokens (commandline -opc)
    set -l sock
    set -l trust
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case -s --socket
                if test $i -lt (count $tokens)
                    set sock --socket $tokens[(math $i + 1)]
                end
            case '--socket=*'
                set sock --socket (string replace -- --socket= '' $tokens[$i])
            case --trust-owner
                if test $i -lt (count $tokens)
                    set trust --trust-owner $tokens[(math $i + 1)]
                end
            case '--trust-owner=*'
                set trust --trust-owner (string replace -- --trust-owner= '' $tokens[$i])
        end
    end
    $tokens[1] call $sock $trust --no-stdin --timeout 2s $argv </dev/null 2>/dev/null
end

function __sockd_commands
    set -l out (__sockd_server help --json | string collect); or return 0
    if command -q jq
        printf '%s\\n' $out | jq -r '.[].name'
    else
        printf '%s\\n' $out | string replace -rf '^    "name": "([^"]*)".*' '$1'
    end
end

function __sockd_flags
    set -l state (__sockd_state)
    set -l out (__sockd_server help --json $state[2] | string collect); or return 0
    if command -q jq
        printf '%s\\n' $out | jq -r '.flags | keys[] | "--" + .'
    else
        printf '%s\\n' $out | sed -n '${SED_FLAGS}'
    end
end

complete -c sockd -f
complete -c sockd -n __sockd_wants_subcommand -l help -d 'Show help'
complete -c sockd -n __sockd_wants_subcommand -l version -d 'Print the version'
${lines.join("\n")}
complete -c sockd -n __sockd_wants_command -a '(__sockd_commands)'
complete -c sockd -n __sockd_wants_help_arg -a '(__sockd_commands)'
complete -c sockd -n __sockd_wants_flag -a '(__sockd_flags)'
complete -c sockd -n '__sockd_in_options completions' -a '${SHELLS.join(" ")}'
`;
}

function zshQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
