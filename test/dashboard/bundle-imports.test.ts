import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The page must never bundle contracts' root: it exports the router, and @trpc/server refuses to
 * load in a browser (the page stays blank). Types from the root are fine (erased); values come from
 * the zod-free or router-free subpaths (`/states`, `/roles`, `/duration`, `/forms`).
 */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('what the dashboard bundles from contracts', () => {
  it('takes only types from the root', () => {
    const offenders: string[] = [];
    for (const file of sources(join(import.meta.dirname, '../../apps/dashboard/src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'@camfleet\/contracts'/g)) {
        if (match[1]) continue;
        const values = (match[2] ?? '')
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '' && !name.startsWith('type '));
        if (values.length > 0) offenders.push(`${file}: ${values.join(', ')}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
