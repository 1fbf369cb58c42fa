import { Argument, type Command, type Option } from 'commander';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';

/**
 * Shell completion generated from the commander tree itself, so it never lags behind the
 * commands: a case per command path for its subcommands and flags, the flags that take a value
 * (their value is skipped while walking the line, and completed from the flag's choices, or as
 * a file name), and aliases mapped to the command they stand for.
 */

export interface CompletionNode {
  /** `rollout watch`; empty for the root. */
  path: string;
  subcommands: ReadonlyArray<{ name: string; aliases: readonly string[]; description: string }>;
  /** Long (and short) flags valid here: the command's own, its ancestors', and --help. */
  flags: ReadonlyArray<{ flag: string; description: string }>;
}

export interface CompletionTree {
  nodes: CompletionNode[];
  /** Every flag that takes a value, e.g. `--limit`. */
  valueFlags: string[];
  /** Flags whose value is one of a few choices, e.g. `--advance`: auto manual. */
  choices: Array<{ flag: string; values: readonly string[] }>;
}

function flagsOf(option: Option): string[] {
  return [option.long, option.short].filter((flag): flag is string => typeof flag === 'string');
}

function visible(command: Command): Option[] {
  return command.options.filter((option) => !option.hidden);
}

export function completionTree(root: Command): CompletionTree {
  const nodes: CompletionNode[] = [];
  const valueFlags = new Set<string>();
  const choices = new Map<string, readonly string[]>();
  const walk = (command: Command, path: string[], inherited: Option[]): void => {
    const options = [...inherited, ...visible(command)];
    for (const option of visible(command)) {
      if (option.required || option.optional) for (const flag of flagsOf(option)) valueFlags.add(flag);
      if (option.argChoices && option.long) choices.set(option.long, option.argChoices);
    }
    const flags = new Map<string, string>();
    for (const option of options) {
      if (option.long) flags.set(option.long, option.description);
    }
    flags.set('--help', 'show help');
    // A first argument with choices (`completion <shell>`) completes like subcommands do.
    const argument = command.registeredArguments[0];
    nodes.push({
      path: path.join(' '),
      subcommands: [
        ...command.commands.map((child) => ({
          name: child.name(),
          aliases: child.aliases(),
          description: child.description(),
        })),
        ...(argument?.argChoices ?? []).map((choice) => ({
          name: choice,
          aliases: [],
          description: argument?.description ?? '',
        })),
      ],
      flags: [...flags].map(([flag, description]) => ({ flag, description })),
    });
    for (const child of command.commands) walk(child, [...path, child.name()], options);
  };
  walk(root, [], []);
  return {
    nodes,
    valueFlags: [...valueFlags].sort(),
    choices: [...choices].map(([flag, values]) => ({ flag, values })),
  };
}

/** `"rollout/watch"|"rollout/w") cmd="rollout watch" ;;` lines: how a word moves down the tree. */
function transitions(tree: CompletionTree, indent: string): string {
  const lines: string[] = [];
  for (const node of tree.nodes) {
    for (const sub of node.subcommands) {
      // An argument's choice leads to a path with no case of its own: nothing more to complete.
      const target = node.path === '' ? sub.name : `${node.path} ${sub.name}`;
      const keys = [sub.name, ...sub.aliases].map((word) => `"${node.path}/${word}"`).join('|');
      lines.push(`${indent}${keys}) cmd="${target}" ;;`);
    }
  }
  return lines.join('\n');
}

function choiceCases(tree: CompletionTree, indent: string, action: (values: string) => string): string {
  return tree.choices
    .map(({ flag, values }) => `${indent}${flag}) ${action(values.join(' '))} ;;`)
    .join('\n');
}

/**
 * The shell loop both scripts share: walk the words before the cursor, skipping flags (and the
 * value of a flag that takes one), to find the command path typed so far in `$cmd`.
 */
function walkWords(tree: CompletionTree, wordsVar: string, first: number, current: string): string {
  return `  local value_flags=" ${tree.valueFlags.join(' ')} "
  for ((i = ${first}; i < ${current}; i++)); do
    word="\${${wordsVar}[i]}"
    if ((skip)); then
      skip=0
      continue
    fi
    case "$word" in
      --*=*) continue ;;
      -*)
        [[ "$value_flags" == *" $word "* ]] && skip=1
        continue
        ;;
    esac
    case "$cmd/$word" in
${transitions(tree, '      ')}
    esac
  done
`;
}

export function bashCompletion(root: Command): string {
  const tree = completionTree(root);
  const name = root.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}_completion`;
  const commandWords = tree.nodes
    .map((node) => `      "${node.path}") words="${node.subcommands.map((s) => s.name).join(' ')}" ;;`)
    .join('\n');
  const flagWords = tree.nodes
    .map((node) => `      "${node.path}") words="${node.flags.map((f) => f.flag).join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for ${name}; generated by \`${name} completion bash\` from its commands.
# Load it now:    source <(${name} completion bash)
# Or for good:    ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" word words="" i skip=0
${walkWords(tree, 'COMP_WORDS', 1, 'COMP_CWORD')}  if ((skip)); then
    case "\${COMP_WORDS[COMP_CWORD - 1]}" in
${choiceCases(tree, '      ', (values) => `COMPREPLY=($(compgen -W "${values}" -- "$cur"))`)}
      *) COMPREPLY=() ;;
    esac
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${flagWords}
    esac
  else
    case "$cmd" in
${commandWords}
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}
complete -o default -F ${fn} ${name}
`;
}

function zshQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function zshEntry(word: string, description: string): string {
  return zshQuote(`${word.replace(/:/g, '\\:')}:${description.replace(/\s+/g, ' ').trim()}`);
}

export function zshCompletion(root: Command): string {
  const tree = completionTree(root);
  const name = root.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const cases = tree.nodes
    .map((node) => {
      const subs = node.subcommands.map((s) => zshEntry(s.name, s.description)).join(' ');
      const flags = node.flags.map((f) => zshEntry(f.flag, f.description)).join(' ');
      return `    "${node.path}")\n      subs=(${subs})\n      flags=(${flags})\n      ;;`;
    })
    .join('\n');
  return `#compdef ${name}
# zsh completion for ${name}; generated by \`${name} completion zsh\` from its commands.
# Load it now (after compinit):  source <(${name} completion zsh)
# Or for good:  ${name} completion zsh > "\${fpath[1]}/_${name}"
${fn}() {
  local cmd="" word i skip=0
${walkWords(tree, 'words', 2, 'CURRENT')}  if ((skip)); then
    case "\${words[CURRENT - 1]}" in
${choiceCases(tree, '      ', (values) => `compadd -- ${values}`)}
      *) _files ;;
    esac
    return
  fi
  local -a subs flags
  case "$cmd" in
${cases}
  esac
  if [[ "$PREFIX" == -* ]]; then
    _describe -t options '${name} flag' flags
  elif (( \${#subs} )); then
    _describe -t commands '${name} command' subs
  else
    _files
  fi
}
if [[ "\${funcstack[1]}" == "${fn}" ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(root: Command, shell: Shell): string {
  return shell === 'bash' ? bashCompletion(root) : zshCompletion(root);
}

export function registerCompletionCommand(program: Command, io: FleetIO): void {
  withExamples(
    program
      .command('completion')
      .description('print a shell completion script (bash or zsh) for fleet: commands, subcommands and flags')
      .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
      .action((shell: Shell, _options: unknown, command: Command) => {
        const s = Session.of(io, command);
        const script = completionScript(program, shell);
        if (s.json) s.emitJson({ shell, script });
        else io.stdout.write(script);
      }),
    [
      'source <(fleet completion bash)                     # this shell only',
      'fleet completion bash > ~/.local/share/bash-completion/completions/fleet',
      'fleet completion zsh > "$HOME/.zfunc/_fleet"   # zsh: a directory on $fpath, before compinit',
    ],
  );
}
