import { randomBytes } from 'node:crypto';
import { access, chmod, constants, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CliError, EXIT, UsageError } from './errors.js';

/**
 * A credentials file: a JSON object of device id → secret, `{ "cam-1": "cfd_…" }`, the format the
 * device simulator reads (and writes) with its --credentials flag. It holds secrets: it is
 * written with mode 0600, atomically (a temp file in the same directory, then a rename).
 */
export type CredentialEntries = Record<string, string>;

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The file's entries; a missing file is empty. A file that is not one is a usage error (exit 2). */
export async function readCredentials(path: string): Promise<CredentialEntries> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return {};
    throw new UsageError(`cannot read --credentials ${path}: ${reason(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--credentials ${path} is not JSON (expected an object of device id to secret)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--credentials ${path}: expected a JSON object of device id to secret`);
  }
  const entries = new Map<string, string>();
  for (const [deviceId, secret] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof secret !== 'string' || secret === '') {
      throw new UsageError(`--credentials ${path}: the secret of "${deviceId}" is not a non-empty string`);
    }
    entries.set(deviceId, secret);
  }
  return Object.fromEntries(entries);
}

/**
 * Checks, before a secret is asked for, that it can be saved: the file is missing or a valid
 * credentials file, and its directory is writable. Failures are usage errors (exit 2).
 */
export async function checkCredentialsFile(path: string): Promise<void> {
  if (path.trim() === '') throw new UsageError('--credentials needs a file name');
  await readCredentials(path);
  try {
    await access(dirname(path), constants.W_OK);
  } catch (error) {
    throw new UsageError(`cannot write --credentials ${path}: ${reason(error)}`);
  }
}

/**
 * Merges `{ deviceId: secret }` into the file as it is now (creating it if missing) and
 * replaces it atomically, mode 0600. A failure is exit 1 (the secret was issued by then).
 */
export async function saveCredential(path: string, deviceId: string, secret: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    // Merged into the file as it is now: whatever was added since the check is kept.
    const merged = { ...(await readCredentials(path)), [deviceId]: secret };
    await writeFile(temp, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    // Whatever the umask: owner read/write only.
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new CliError(EXIT.FAILURE, `could not save the secret to ${path}: ${reason(error)}`);
  }
}
