import { access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type CredentialEntries,
  CredentialsFileWriter,
  mergeCredentialsFile,
  readCredentialsFile,
} from '@camfleet/client';
import { CliError, EXIT, UsageError } from './errors.js';

/** The CLI's side of the shared credentials file: errors become usage errors or failures. */

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The file's entries; a missing file is empty. A file that is not one is a usage error (exit 2). */
export async function readCredentials(path: string): Promise<CredentialEntries> {
  try {
    return await readCredentialsFile(path);
  } catch (error) {
    throw new UsageError(`--credentials ${reason(error)}`);
  }
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
  try {
    await mergeCredentialsFile(path, { [deviceId]: secret });
  } catch (error) {
    throw new CliError(EXIT.FAILURE, `could not save the secret to ${path}: ${reason(error)}`);
  }
}

/** Adds secrets batch by batch (an import): each `add` is on disk when it resolves; failures exit 1. */
export async function credentialsWriter(
  path: string,
): Promise<{ add(entries: CredentialEntries): Promise<void> }> {
  const writer = await CredentialsFileWriter.open(path).catch((error: unknown) => {
    throw new UsageError(`cannot read --credentials ${path}: ${reason(error)}`);
  });
  return {
    add: (entries) =>
      writer.add(entries).catch((error: unknown) => {
        throw new CliError(EXIT.FAILURE, `could not save the secrets to ${path}: ${reason(error)}`);
      }),
  };
}
