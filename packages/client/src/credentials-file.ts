import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * A credentials file: a JSON object of device id → secret, `{ "cam-0001": "cfd_…" }`. The CLI
 * writes it when it provisions devices; the simulator reads it and adds what its devices enroll.
 */
export type CredentialEntries = Record<string, string>;

/** A credentials file that cannot be read or is not a JSON object of device id → secret. */
export class CredentialsFileError extends Error {
  override readonly name = 'CredentialsFileError';
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/** The file's entries; a missing file is empty when `missingOk`. */
export async function readCredentialsFile(
  path: string,
  { missingOk = true } = {},
): Promise<CredentialEntries> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (missingOk && isMissing(error)) return {};
    throw new CredentialsFileError(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CredentialsFileError(`${path} is not JSON (expected an object of device id to secret)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialsFileError(`${path}: expected a JSON object of device id to secret`);
  }
  const entries: CredentialEntries = {};
  for (const [deviceId, secret] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof secret !== 'string' || secret === '') {
      throw new CredentialsFileError(`${path}: the secret of "${deviceId}" is not a non-empty string`);
    }
    entries[deviceId] = secret;
  }
  return entries;
}

/**
 * Merges entries into the file as it is now (creating it if missing) and replaces it atomically:
 * a temp file in the same directory, mode 0600 whatever the umask, then a rename.
 */
export async function mergeCredentialsFile(path: string, entries: CredentialEntries): Promise<void> {
  const merged = { ...(await readCredentialsFile(path)), ...entries };
  await replaceFile(path, `${JSON.stringify(merged, null, 2)}\n`);
}

async function replaceFile(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * A credentials file one writer adds many entries to (an import, batch by batch): read once, then
 * replaced after each `add` with what it held plus everything added, each entry serialized once (a
 * merge per batch would parse and print the whole growing file every time). The same text as
 * mergeCredentialsFile writes.
 */
export class CredentialsFileWriter {
  private constructor(
    readonly path: string,
    private readonly lines: Map<string, string>,
  ) {}

  static async open(path: string): Promise<CredentialsFileWriter> {
    const writer = new CredentialsFileWriter(path, new Map());
    writer.remember(await readCredentialsFile(path));
    return writer;
  }

  async add(entries: CredentialEntries): Promise<void> {
    this.remember(entries);
    const body = [...this.lines.values()].join(',\n');
    await replaceFile(this.path, this.lines.size === 0 ? '{}\n' : `{\n${body}\n}\n`);
  }

  private remember(entries: CredentialEntries): void {
    for (const [deviceId, secret] of Object.entries(entries))
      this.lines.set(deviceId, `  ${JSON.stringify(deviceId)}: ${JSON.stringify(secret)}`);
  }
}
