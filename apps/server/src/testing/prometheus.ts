/** Samples of a Prometheus text exposition, keyed by `name{k="v",...}` with labels sorted. */
export type Samples = Map<string, number>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function sampleKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`);
  return pairs.length > 0 ? `${name}{${pairs.join(',')}}` : name;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match?.[1] || match[2] === undefined) throw new Error(`bad labels in: ${line}`);
    labels[match[1]] = match[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** A sample value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case, e.g. `Nan`). */
function parseValue(raw: string): number | null {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(raw);
  if (special)
    return special[2]?.toLowerCase() === 'nan' ? Number.NaN : special[1] === '-' ? -Infinity : Infinity;
  const value = Number(raw);
  return raw.trim() === '' || Number.isNaN(value) ? null : value;
}

/**
 * Parses the text format (0.0.4) strictly: every line is a HELP, a TYPE or a sample; every sample
 * belongs to a family declared by a TYPE line (histograms and summaries by their suffixes).
 */
export function parseExposition(text: string): Samples {
  const types = new Map<string, string>();
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const [, keyword, name, rest] = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line) ?? [];
      if (!keyword || !name || !NAME.test(name)) throw new Error(`bad comment line: ${line}`);
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest ?? '')) throw new Error(`bad type: ${line}`);
        types.set(name, rest ?? '');
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match?.[1] || !match[3]) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, rawValue] = match;
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => types.has(n));
    if (!family) throw new Error(`sample without a TYPE: ${line}`);
    const value = parseValue(rawValue);
    if (value === null) throw new Error(`bad value: ${line}`);
    samples.set(sampleKey(name, labelText ? parseLabels(labelText, line) : {}), value);
  }
  return samples;
}

/** A sample's value, or undefined when the exposition does not have it. */
export function sample(
  samples: Samples,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.get(sampleKey(name, labels));
}

/** Whether any sample of this metric name exists (whatever its labels). */
export function hasMetric(samples: Samples, name: string): boolean {
  for (const key of samples.keys()) if (key === name || key.startsWith(`${name}{`)) return true;
  return false;
}
