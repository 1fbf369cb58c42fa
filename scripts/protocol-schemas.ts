/**
 * `pnpm protocol:schemas`: writes the JSON Schema files and the AsyncAPI document of device
 * protocol 1 to docs/device-protocol, from the zod schemas in packages/contracts. Commit what it
 * writes: a test fails while the committed files differ from what the schemas generate.
 */

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { protocolDocuments, SCHEMAS_FOLDER } from '../packages/contracts/src/protocol/asyncapi.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, 'docs', 'device-protocol');

const documents = protocolDocuments();
const changed: string[] = [];
for (const [path, text] of documents) {
  const file = join(DIR, path);
  let old: string | null = null;
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    // a new file
  }
  if (old === text) continue;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  changed.push(`${old === null ? 'new' : 'changed'}  ${relative(ROOT, file)}`);
}
// A schema no longer generated goes, so the folder lists exactly what the source defines.
for (const name of readdirSync(join(DIR, SCHEMAS_FOLDER))) {
  if (name.endsWith('.schema.json') && !documents.has(`${SCHEMAS_FOLDER}/${name}`)) {
    rmSync(join(DIR, SCHEMAS_FOLDER, name));
    changed.push(`removed  ${relative(ROOT, join(DIR, SCHEMAS_FOLDER, name))}`);
  }
}
console.log(changed.length ? changed.join('\n') : `${documents.size} files, all up to date`);
