import { readFile } from 'node:fs/promises';
import { PROVISION_BATCH_MAX } from '@camfleet/contracts';
import type { Command } from 'commander';
import { terminalBar } from '../../bar.js';
import { checkCredentialsFile, credentialsWriter } from '../../credentials-file.js';
import { CliError, EXIT, UsageError } from '../../errors.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { intOption } from '../../validate.js';
import { type ImportFile, parseImportFile, type RefusedRow } from './import-file.js';

interface ImportFlags {
  credentials: string;
  batch: string;
}

/** What an import did, as `--json` prints it. */
export interface ImportSummary {
  file: string;
  format: ImportFile['format'];
  rows: number;
  created: number;
  existing: number;
  refused: RefusedRow[];
  credentials: string;
}

/** Refusals shown in the human summary; `--json` lists them all. */
const REFUSALS_SHOWN = 20;

/** Rows sent so far, as a bar on a terminal's stderr (nothing when piped). */
function rowsBar(s: Session, total: number): { update(done: number): void; stop(): void } {
  if (s.json || s.io.stderr.isTTY !== true) return { update() {}, stop() {} };
  const bar = terminalBar(
    s.io.stderr,
    `importing ${s.ce.cyan('{bar}')} {percentage}% | {value} / {total} devices | ETA {eta_formatted}`,
  );
  bar.start(total, 0);
  return { update: (done) => bar.update(done), stop: () => bar.stop() };
}

/**
 * Sends the accepted rows in batches; each batch's new secrets are saved to the credentials file
 * before the next batch goes (a secret is shown only once: an import cut short keeps what it got).
 */
async function importRows(s: Session, parsed: ImportFile, file: string, flags: ImportFlags) {
  const batch = intOption('--batch', flags.batch, 1, PROVISION_BATCH_MAX) ?? PROVISION_BATCH_MAX;
  const saved = await credentialsWriter(flags.credentials);
  const bar = rowsBar(s, parsed.rows.length);
  let created = 0;
  let existing = 0;
  try {
    await s.withClient(async (client) => {
      for (let at = 0; at < parsed.rows.length; at += batch) {
        const devices = parsed.rows.slice(at, at + batch).map((row) => row.device);
        const result = await client.devices.credentials.provisionMany.mutate({ devices });
        if (result.created.length > 0)
          await saved.add(Object.fromEntries(result.created.map((c) => [c.deviceId, c.secret])));
        created += result.created.length;
        existing += result.existing.length;
        bar.update(at + devices.length);
      }
    });
  } finally {
    bar.stop();
  }
  const summary: ImportSummary = {
    file,
    format: parsed.format,
    rows: parsed.rows.length + parsed.refused.length,
    created,
    existing,
    refused: parsed.refused,
    credentials: flags.credentials,
  };
  return summary;
}

function humanSummary(s: Session, summary: ImportSummary): string {
  const lines = [
    `${summary.created} provisioned, ${summary.existing} already had a credential (left as they were), ` +
      `${summary.refused.length} refused, of ${summary.rows} rows in ${summary.file}`,
  ];
  if (summary.created > 0) lines.push(`new secrets saved to ${summary.credentials}`);
  if (summary.refused.length > 0) {
    const shown = summary.refused.slice(0, REFUSALS_SHOWN);
    lines.push(
      s.table(
        ['line', 'id', 'refused because'],
        shown.map((row) => [row.line, row.deviceId ?? '', s.cell(row.reason, 80)]),
        ['right'],
      ),
    );
    if (summary.refused.length > shown.length)
      lines.push(`… and ${summary.refused.length - shown.length} more (--json lists them all)`);
  }
  return lines.join('\n');
}

export function registerImportCommand(devices: Command, io: FleetIO): void {
  devices
    .command('import')
    .description('provision many devices from a CSV or JSON-lines file (admin role); idempotent')
    .argument('<file>', 'CSV with a header (id,model,labels) or JSON lines ({"id":…,"model":…,"labels":{…}})')
    .requiredOption(
      '--credentials <file>',
      'where the new secrets go (JSON of id → secret, as pnpm sim --credentials reads)',
    )
    .option('--batch <n>', `devices per request (1-${PROVISION_BATCH_MAX})`, String(PROVISION_BATCH_MAX))
    .addHelpText(
      'after',
      `
Rows are checked first (id rule, model, labels as key=value,…); a refused row is reported with its
line and reason and the rest are imported. A device that already has a credential is left as it
was, so running the same file again changes nothing. Exit 1 when rows were refused.

Examples:
  fleet devices import cameras.csv --credentials creds.json
  printf 'id,model,labels\\ncam-0001,cam-x1,"site=berlin,tier=canary"\\n' > cameras.csv`,
    )
    .action(async (file: string, flags: ImportFlags, command: Command) => {
      const s = Session.of(io, command);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new UsageError(
          `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      const parsed = parseImportFile(file, text);
      await checkCredentialsFile(flags.credentials);
      const summary = await importRows(s, parsed, file, flags);
      s.output(summary, () => humanSummary(s, summary));
      if (summary.refused.length > 0) throw new CliError(EXIT.FAILURE, '');
    });
}
