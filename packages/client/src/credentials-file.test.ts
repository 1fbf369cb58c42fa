import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CredentialEntries,
  CredentialsFileWriter,
  mergeCredentialsFile,
  readCredentialsFile,
} from './credentials-file.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'camfleet-creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CredentialsFileWriter', () => {
  it('keeps what the file held, adds batch by batch, and writes what a merge writes', async () => {
    const written = join(dir, 'writer.json');
    const merged = join(dir, 'merged.json');
    await writeFile(written, '{"cam-0": "cfd_zero"}');
    await writeFile(merged, '{"cam-0": "cfd_zero"}');
    const writer = await CredentialsFileWriter.open(written);
    const batches: CredentialEntries[] = [
      { 'cam-1': 'cfd_one', 'cam "2"': 'cfd_two' },
      { 'cam-3': 'cfd_three' },
    ];
    for (const batch of batches) {
      await writer.add(batch);
      await mergeCredentialsFile(merged, batch);
      expect(await readFile(written, 'utf8')).toBe(await readFile(merged, 'utf8'));
    }
    expect(Object.keys(await readCredentialsFile(written))).toEqual(['cam-0', 'cam-1', 'cam "2"', 'cam-3']);
    expect((await stat(written)).mode & 0o777).toBe(0o600);
  });

  it('starts a missing file', async () => {
    const path = join(dir, 'new.json');
    await (await CredentialsFileWriter.open(path)).add({ 'cam-1': 'cfd_one' });
    expect(await readCredentialsFile(path, { missingOk: false })).toEqual({ 'cam-1': 'cfd_one' });
  });
});
