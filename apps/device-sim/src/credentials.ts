import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Where devices find their secrets, and keep the ones they obtain by enrolling. */
export interface CredentialStore {
  secretOf(deviceId: string): string | undefined;
  /** Remembers a secret a device obtained by enrolling; resolves once it is stored for good. */
  save(deviceId: string, secret: string): Promise<void>;
}

/** A credentials file that is not a JSON object of device id → secret. */
export class CredentialsFileError extends Error {
  override readonly name = 'CredentialsFileError';
}

/**
 * Device secrets, in memory and optionally in a JSON file `{ "<deviceId>": "<secret>" }`.
 *
 * Saving rewrites the file atomically (a temp file in the same directory, then a rename), merging
 * the secrets saved by this process into whatever the file holds by then. Saves are serialized and
 * coalesced: many devices enrolling at once cost a few rewrites, never a torn or lost one.
 */
export class Credentials implements CredentialStore {
  private readonly secrets: Map<string, string>;
  /** Secrets saved by this process: the ones it owns in the file. */
  private readonly saved = new Map<string, string>();
  private dirty = false;
  private writeCount = 0;
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string | null,
    entries: Record<string, string>,
  ) {
    this.secrets = new Map(Object.entries(entries));
  }

  /** Secrets kept in memory only. */
  static inMemory(entries: Record<string, string> = {}): Credentials {
    return new Credentials(null, entries);
  }

  /**
   * Reads a credentials file. A missing file is empty when `missingOk` (it is created on the first
   * save); a malformed one throws CredentialsFileError.
   */
  static async load(path: string, { missingOk = true }: { missingOk?: boolean } = {}): Promise<Credentials> {
    const entries = await readEntries(path, missingOk);
    return new Credentials(path, entries);
  }

  /** How many times the file was rewritten. */
  get fileWrites(): number {
    return this.writeCount;
  }

  get size(): number {
    return this.secrets.size;
  }

  secretOf(deviceId: string): string | undefined {
    return this.secrets.get(deviceId);
  }

  async save(deviceId: string, secret: string): Promise<void> {
    this.secrets.set(deviceId, secret);
    if (this.path === null) return;
    this.saved.set(deviceId, secret);
    this.dirty = true;
    const write = this.writes.then(() => this.flush());
    // The chain goes on after a failed write; the caller of this save hears about it.
    this.writes = write.catch(() => {});
    await write;
  }

  /** Resolves once every save so far is written (or failed). */
  async settled(): Promise<void> {
    await this.writes;
  }

  /** Writes what was saved since the last write, if anything, merged into the file as it is now. */
  private async flush(): Promise<void> {
    if (!this.dirty || this.path === null) return;
    const path = this.path;
    const onDisk = await readEntries(path, true);
    // From here on, a save makes the next flush write again.
    this.dirty = false;
    const merged = { ...onDisk, ...Object.fromEntries(this.saved) };
    const temp = join(
      dirname(path),
      `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
    );
    try {
      await writeFile(temp, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, path);
      this.writeCount++;
    } catch (error) {
      this.dirty = true;
      await rm(temp, { force: true });
      throw error;
    }
  }
}

async function readEntries(path: string, missingOk: boolean): Promise<Record<string, string>> {
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
    throw new CredentialsFileError(`${path}: not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialsFileError(`${path}: expected a JSON object of device id to secret`);
  }
  const entries: Record<string, string> = {};
  for (const [deviceId, secret] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof secret !== 'string' || secret === '') {
      throw new CredentialsFileError(`${path}: the secret of "${deviceId}" is not a non-empty string`);
    }
    entries[deviceId] = secret;
  }
  return entries;
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}
