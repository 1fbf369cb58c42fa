import { ProvisionInput } from '@camfleet/contracts';
import { parse as parseCsv } from 'csv-parse/sync';
import { CliError, UsageError } from '../../errors.js';
import { labelsOption } from '../../validate.js';

/** A row of the file that can be sent: where it was, and what `provision` takes. */
export interface ImportRow {
  line: number;
  device: ProvisionInput;
}

/** A row the CLI refused before sending anything: where, which id (if it had one), and why. */
export interface RefusedRow {
  line: number;
  deviceId: string | null;
  reason: string;
}

export interface ImportFile {
  format: 'csv' | 'jsonl';
  rows: ImportRow[];
  refused: RefusedRow[];
}

/** The fields a row may have, as read from the file (strings from a CSV, anything from JSON). */
interface RawRow {
  id?: unknown;
  model?: unknown;
  labels?: unknown;
}

/**
 * The devices of an import file. JSON lines (`.jsonl`, `.ndjson`, or text starting with `{`): one
 * object a line, `{"id": …, "model": …, "labels": {…}}`. Otherwise CSV with a header naming `id`
 * and optionally `model` and `labels` (`site=berlin,tier=canary`, quoted). Each row is checked as
 * `fleet device provision` checks its arguments; an id seen before is refused, naming that line.
 */
export function parseImportFile(path: string, text: string): ImportFile {
  const jsonLines = /\.(jsonl|ndjson)$/i.test(path) || text.trimStart().startsWith('{');
  const raw = jsonLines ? jsonRows(text) : csvRows(path, text);
  const rows: ImportRow[] = [];
  const refused: RefusedRow[] = [];
  const seen = new Map<string, number>();
  for (const { line, fields, problem } of raw) {
    const deviceId = typeof fields?.id === 'string' && fields.id !== '' ? fields.id : null;
    const checked = problem !== null ? { reason: problem } : deviceOf(fields ?? {});
    if ('reason' in checked) {
      refused.push({ line, deviceId, reason: checked.reason });
      continue;
    }
    const first = seen.get(checked.device.deviceId);
    if (first !== undefined) {
      refused.push({ line, deviceId, reason: `the id appears again (first on line ${first})` });
      continue;
    }
    seen.set(checked.device.deviceId, line);
    rows.push({ line, device: checked.device });
  }
  return { format: jsonLines ? 'jsonl' : 'csv', rows, refused };
}

/** A row as `provision` takes it, or why it cannot be. */
function deviceOf(fields: RawRow): { device: ProvisionInput } | { reason: string } {
  if (typeof fields.id !== 'string' || fields.id === '') return { reason: 'no id' };
  let labels: unknown = fields.labels;
  if (typeof labels === 'string') {
    try {
      labels = labels.trim() === '' ? undefined : labelsOption('labels', labels);
    } catch (error) {
      if (error instanceof CliError) return { reason: error.message };
      throw error;
    }
  }
  const model = fields.model === '' ? undefined : fields.model;
  const parsed = ProvisionInput.safeParse({
    deviceId: fields.id,
    ...(model !== undefined ? { model } : {}),
    ...(labels !== undefined ? { labels } : {}),
  });
  if (parsed.success) return { device: parsed.data };
  const issue = parsed.error.issues[0];
  const field = issue?.path[0] === 'deviceId' ? 'id' : String(issue?.path[0] ?? 'row');
  return { reason: `${field}: ${issue?.message ?? 'invalid'}` };
}

interface RawLine {
  line: number;
  fields: RawRow | null;
  problem: string | null;
}

function jsonRows(text: string): RawLine[] {
  const out: RawLine[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    try {
      const value: unknown = JSON.parse(content);
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        out.push({ line: i + 1, fields: null, problem: 'not a JSON object' });
      else out.push({ line: i + 1, fields: value as RawRow, problem: null });
    } catch {
      out.push({ line: i + 1, fields: null, problem: 'not JSON' });
    }
  });
  return out;
}

function csvRows(path: string, text: string): RawLine[] {
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    records = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, info: true, bom: true });
  } catch (error) {
    // A file that is not CSV as a whole (an unclosed quote, a row with more fields than the header).
    throw new UsageError(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const header = records[0] ? Object.keys(records[0].record) : [];
  if (records.length > 0 && !header.includes('id'))
    throw new UsageError(
      `${path}: the CSV header must name an id column (id,model,labels), not ${header.join(',')}`,
    );
  return records.map(({ record, info }) => ({ line: info.lines, fields: record, problem: null }));
}
