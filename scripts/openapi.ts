/**
 * `pnpm openapi`: writes docs/openapi.json, the OpenAPI 3.1 document of the REST API, from the
 * router and its zod schemas. Commit what it writes: a test fails while the committed file differs
 * from what the source generates.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPENAPI_FILE, openApiText } from '../packages/contracts/src/rest/index.js';

const file = join(fileURLToPath(new URL('..', import.meta.url)), OPENAPI_FILE);
const text = openApiText();
let old: string | null = null;
try {
  old = readFileSync(file, 'utf8');
} catch {
  // a new file
}
if (old === text) console.log(`${OPENAPI_FILE} is up to date`);
else {
  writeFileSync(file, text);
  console.log(`${old === null ? 'new' : 'changed'}  ${OPENAPI_FILE}`);
}
