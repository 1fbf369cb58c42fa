/**
 * Label selectors, as operators write them: comma-separated requirements, all of which must hold.
 *   site=berlin        label equals        tier!=prod      label differs (or is absent)
 *   site in (a,b)      label is one of     site notin (a,b)
 *   site               label present       !site           label absent
 * `model` is matched like a label (the device's model). Parsed here, evaluated by the server.
 */
export type Requirement =
  | { key: string; op: 'eq' | 'ne'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'absent' };
export type Selector = Requirement[];

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const VALUE = /^[A-Za-z0-9._:/+-]{0,128}$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (depth < 0) throw new SelectorError('unbalanced ")"');
    if (char === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += char;
  }
  if (depth !== 0) throw new SelectorError('unbalanced "("');
  terms.push(current);
  return terms.map((t) => t.trim());
}

function checkKey(key: string, term: string): string {
  if (!KEY.test(key)) throw new SelectorError(`bad label key in "${term}"`);
  return key;
}

function checkValue(value: string, term: string): string {
  if (!VALUE.test(value)) throw new SelectorError(`bad value "${value}" in "${term}"`);
  return value;
}

function parseTerm(term: string): Requirement {
  if (term === '') throw new SelectorError('empty requirement (stray comma?)');
  const set = /^([^\s!=()]+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (set) {
    const values = set[3]!.split(',').map((v) => checkValue(v.trim(), term));
    if (values.some((v) => v === '')) throw new SelectorError(`empty value in "${term}"`);
    return { key: checkKey(set[1]!, term), op: set[2] as 'in' | 'notin', values };
  }
  const compare = /^([^\s!=()]+)\s*(!=|==|=)\s*(.*)$/.exec(term);
  if (compare) {
    const op = compare[2] === '!=' ? 'ne' : 'eq';
    return { key: checkKey(compare[1]!, term), op, value: checkValue(compare[3]!.trim(), term) };
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), term), op: 'absent' };
  if (KEY.test(term)) return { key: term, op: 'exists' };
  throw new SelectorError(
    `cannot read "${term}": use key=value, key!=value, key in (a,b), key notin (a,b), key or !key`,
  );
}

export function parseSelector(text: string): Selector {
  if (text.length > 1024) throw new SelectorError('selector longer than 1024 characters');
  if (text.trim() === '') throw new SelectorError('empty selector');
  const terms = splitTerms(text).map(parseTerm);
  if (terms.length > 32) throw new SelectorError('at most 32 requirements');
  return terms;
}

/** Whether a device with these labels and model matches (the reference the server's Lua mirrors). */
export function matchesSelector(selector: Selector, labels: Record<string, string>, model: string): boolean {
  const labelValue = (key: string): string | undefined => (key === 'model' ? model : labels[key]);
  return selector.every((r) => {
    const value = labelValue(r.key);
    switch (r.op) {
      case 'eq':
        return value === r.value;
      case 'ne':
        return value !== r.value;
      case 'in':
        return value !== undefined && r.values.includes(value);
      case 'notin':
        return value === undefined || !r.values.includes(value);
      case 'exists':
        return value !== undefined;
      case 'absent':
        return value === undefined;
      default:
        return false;
    }
  });
}
