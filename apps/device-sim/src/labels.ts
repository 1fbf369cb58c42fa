import { Labels } from '@camfleet/contracts';

export type LabelMap = Record<string, string>;

/**
 * Parses `k=v,k=v` into a label map. Empty input gives no labels. Throws an Error naming the
 * offending pair for anything malformed (missing `=`, empty or invalid key, duplicate key).
 */
export function parseLabels(text: string): LabelMap {
  const labels: LabelMap = {};
  const trimmed = text.trim();
  if (trimmed === '') return labels;
  for (const raw of trimmed.split(',')) {
    const pair = raw.trim();
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`label "${pair}" is not key=value`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (key in labels) throw new Error(`label "${key}" given twice`);
    labels[key] = value;
  }
  const checked = Labels.safeParse(labels);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const where = issue?.path.length ? ` (${issue.path.join('.')})` : '';
    throw new Error(`invalid labels${where}: ${issue?.message ?? 'rejected'}`);
  }
  return labels;
}
