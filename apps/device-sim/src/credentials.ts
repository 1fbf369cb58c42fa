import { CredentialsFileError, mergeCredentialsFile, readCredentialsFile } from '@camfleet/client';

/** Where devices find their secrets, and keep the ones they obtain by enrolling. */
export interface CredentialStore {
  secretOf(deviceId: string): string | undefined;
  /** Remembers a secret a device obtained by enrolling; resolves once it is stored for good. */
  save(deviceId: string, secret: string): Promise<void>;
}

export { CredentialsFileError };

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
    const entries = await readCredentialsFile(path, { missingOk });
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
    // From here on, a save makes the next flush write again.
    this.dirty = false;
    try {
      await mergeCredentialsFile(this.path, Object.fromEntries(this.saved));
      this.writeCount++;
    } catch (error) {
      this.dirty = true;
      throw error instanceof CredentialsFileError ? error : new CredentialsFileError(String(error));
    }
  }
}
