import { type AuditEntry, AuditInput } from '@camfleet/contracts';
import type { Command } from 'commander';
import type { Colors } from '../colors.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { truncate } from '../table.js';
import { formatTimestamp } from '../time.js';
import { check, intOption } from '../validate.js';

interface AuditFlags {
  limit: string;
  actor?: string;
}

export function auditInput(flags: AuditFlags): AuditInput {
  const input: AuditInput = {
    limit: intOption('--limit', flags.limit, 1, 1000) ?? 100,
    ...(flags.actor !== undefined ? { actor: flags.actor } : {}),
  };
  check('audit query', AuditInput, input, (path) => (path[0] === 'actor' ? '--actor' : null));
  return input;
}

/** `ok`, or `refused: <why>`. */
/** How a long cell is shortened: `truncate` on a terminal, `oneLine` (in full) when piped. */
export type Cut = (text: string, max: number) => string;

/** `ok`, or `refused: <why>`. */
export function auditResult(entry: AuditEntry, c: Colors, cut: Cut = truncate): string {
  if (entry.ok) return c.green('ok');
  return c.red(entry.error ? `refused: ${cut(entry.error, 60)}` : 'refused');
}

export function auditRow(entry: AuditEntry, c: Colors, cut: Cut = truncate): string[] {
  return [
    formatTimestamp(entry.at),
    entry.role !== '' ? `${entry.actor} (${entry.role})` : entry.actor,
    entry.action,
    auditResult(entry, c, cut),
    cut(entry.input, 60),
  ];
}

export function registerAuditCommand(program: Command, io: FleetIO): void {
  withExamples(program.command('audit'), [
    'fleet audit --limit 20',
    "fleet audit --actor ci --json | jq '.[] | select(.ok == false)'",
  ])
    .description('the audit log: every admin change, who made it and whether it was allowed, oldest first')
    .option('--limit <n>', 'the newest this many entries (1-1000)', '100')
    .option('--actor <name>', 'only the entries of this token name')
    .action(async (flags: AuditFlags, command: Command) => {
      const s = Session.of(io, command);
      const input = auditInput(flags);
      const entries = await s.withClient((client) => client.audit.list.query(input));
      s.output(entries, () => {
        if (entries.length === 0) {
          s.note(input.actor !== undefined ? `no audit entries by ${input.actor}` : 'no audit entries');
          return null;
        }
        return s.table(
          ['TIME', 'ACTOR', 'ACTION', 'RESULT', 'INPUT'],
          entries.map((entry) => auditRow(entry, s.c, (text, max) => s.cell(text, max))),
        );
      });
    });
}
