/**
 * The fish completion script of `sockd completions fish`.
 *
 * @module
 */
import { fishQuote, SED_FLAGS, SHELLS, type SubcommandSpec, valueOptions } from "./_completions_common.ts";

/** The fish script for `subs`; `self` runs sockd when the word typed is not a command. */
export function fish(subs: readonly SubcommandSpec[], self: readonly string[]): string {
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

# The sockd that wrote this script: run when the word typed is not a command.
set -g __sockd_self ${self.map(fishQuote).join(" ")}

# Runs "sockd call ARGS..." against the socket named on the line, if any,
# trusting the owner named there (--trust-owner) as the call itself would.
function __sockd_server
    set -l tokens (commandline -opc)
    set -l prog $tokens[1]
    if not type -q -- $tokens[1]
        set prog $__sockd_self
    end
    test (count $prog) -gt 0; or return 1
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
    $prog call $sock $trust --no-stdin --timeout 2s $argv </dev/null 2>/dev/null
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
