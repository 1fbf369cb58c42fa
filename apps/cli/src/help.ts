import type { Command } from 'commander';

/**
 * Adds an `Examples:` section at the end of a command's --help (after any text already there).
 * Every command has one: tested by walking the command tree.
 */
export function withExamples(command: Command, lines: readonly string[], intro?: string): Command {
  const body = lines.map((line) => `  ${line}`).join('\n');
  return command.addHelpText('after', `${intro !== undefined ? `\n${intro}\n` : ''}\nExamples:\n${body}`);
}

/** `fleet rollout status` for the command, from the root's name down. */
export function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let current: Command | null = command; current !== null; current = current.parent) {
    names.unshift(current.name());
  }
  return names;
}

/** Every command of the tree, depth first, the root included. */
export function allCommands(root: Command): Command[] {
  return [root, ...root.commands.flatMap((child) => allCommands(child))];
}
