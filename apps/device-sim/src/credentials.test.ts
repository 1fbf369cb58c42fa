import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Credentials, CredentialsFileError } from './credentials.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'credentials-'));
  file = join(dir, 'creds.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const onDisk = async (): Promise<unknown> => JSON.parse(await readFile(file, 'utf8'));

describe('Credentials', () => {
  it('reads secrets from a file', async () => {
    await writeFile(file, JSON.stringify({ 'cam-0001': 's1', 'cam-0002': 's2' }));
    const credentials = await Credentials.load(file);
    expect(credentials.secretOf('cam-0001')).toBe('s1');
    expect(credentials.secretOf('cam-0003')).toBeUndefined();
    expect(credentials.size).toBe(2);
  });

  it('starts empty without a file, unless the file is required', async () => {
    expect((await Credentials.load(file)).size).toBe(0);
    await expect(Credentials.load(file, { missingOk: false })).rejects.toThrow(CredentialsFileError);
  });

  it.each([
    ['not json', /not JSON/],
    ['[]', /JSON object/],
    ['"x"', /JSON object/],
    ['{"cam-0001": 5}', /"cam-0001" is not a non-empty string/],
    ['{"cam-0001": ""}', /non-empty string/],
  ])('refuses a malformed file: %s', async (text, message) => {
    await writeFile(file, text);
    await expect(Credentials.load(file)).rejects.toThrow(message);
  });

  it('writes concurrent saves, all of them, merged into what the file holds by then', async () => {
    await writeFile(file, JSON.stringify({ 'old-0001': 'kept' }));
    const credentials = await Credentials.load(file);
    // Another process adds a device after this one read the file.
    await writeFile(file, JSON.stringify({ 'old-0001': 'kept', 'else-0001': 'theirs' }));
    const ids = Array.from({ length: 50 }, (_, i) => `cam-${String(i + 1).padStart(4, '0')}`);
    await Promise.all(ids.map((id) => credentials.save(id, `secret-${id}`)));

    expect(await onDisk()).toEqual({
      'old-0001': 'kept',
      'else-0001': 'theirs',
      ...Object.fromEntries(ids.map((id) => [id, `secret-${id}`])),
    });
    expect(credentials.secretOf('cam-0050')).toBe('secret-cam-0050');
    expect(await readdir(dir)).toEqual(['creds.json']); // no temp file left behind
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('coalesces a burst of saves into few writes', async () => {
    const credentials = await Credentials.load(file);
    await Promise.all(Array.from({ length: 200 }, (_, i) => credentials.save(`d-${i}`, `s-${i}`)));
    expect(Object.keys((await onDisk()) as object)).toHaveLength(200);
    expect(credentials.fileWrites).toBeLessThanOrEqual(2);
    await credentials.save('d-200', 's-200');
    expect(credentials.fileWrites).toBeLessThanOrEqual(3);
    expect(await onDisk()).toMatchObject({ 'd-200': 's-200' });
  });

  it('reports a failed write to the save that needed it, and writes later saves', async () => {
    const credentials = await Credentials.load(file);
    await writeFile(file, 'garbage');
    await expect(credentials.save('cam-0001', 's1')).rejects.toThrow(CredentialsFileError);
    expect(credentials.secretOf('cam-0001')).toBe('s1'); // kept in memory
    await rm(file);
    await credentials.save('cam-0002', 's2');
    await credentials.settled();
    expect(await onDisk()).toEqual({ 'cam-0001': 's1', 'cam-0002': 's2' });
  });

  it('keeps secrets in memory only when it has no file', async () => {
    const credentials = Credentials.inMemory({ a: '1' });
    await credentials.save('b', '2');
    expect([credentials.secretOf('a'), credentials.secretOf('b'), credentials.path]).toEqual([
      '1',
      '2',
      null,
    ]);
  });
});
