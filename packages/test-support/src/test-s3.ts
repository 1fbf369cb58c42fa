import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './redis.js';
import { awaitReady } from './startup.js';

/** s3rver's own credentials: it knows no others. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';
/** How s3rver names what it keeps on disk: objects, and the parts of unfinished multipart uploads. */
const OBJECT_SUFFIX = '._S3rver_object';
const UPLOADS_DIR = '._S3rver_uploads';

/**
 * A private S3-compatible server (s3rver) for one suite: its own port and directory, one bucket.
 * s3rver checks a presigned URL's expiry but not its SigV4 signature, and serves ranges.
 */
export class TestS3 {
  private process: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly bucket: string,
  ) {}

  static async start(bucket = 'camfleet-test'): Promise<TestS3> {
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-s3-'));
    const s3 = new TestS3(await freePort(), dir, bucket);
    await s3.boot();
    return s3;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get credentials(): { accessKeyId: string; secretAccessKey: string } {
    return { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };
  }

  /** The FLEET_S3_* variables a pod needs to use this server under `prefix`. */
  env(prefix = ''): Record<string, string> {
    return {
      FLEET_ARTIFACT_STORE: 's3',
      FLEET_S3_ENDPOINT: this.endpoint,
      FLEET_S3_BUCKET: this.bucket,
      FLEET_S3_REGION: 'us-east-1',
      FLEET_S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      FLEET_S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      FLEET_S3_FORCE_PATH_STYLE: '1',
      ...(prefix ? { FLEET_S3_PREFIX: prefix } : {}),
    };
  }

  /**
   * Bytes on the server's disk under a key prefix: finished objects, and (with `parts`) the parts
   * of multipart uploads that have not completed (S3 lists neither those nor their sizes).
   */
  async bytesOnDisk(keyPrefix: string, options: { parts?: boolean } = {}): Promise<number> {
    const root = join(this.dir, this.bucket);
    let total = 0;
    const walk = async (dir: string, rel: string, inUploads: boolean): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          const uploads = inUploads || entry.name === UPLOADS_DIR;
          await walk(path, uploads ? rel : `${rel}${entry.name}/`, uploads);
          continue;
        }
        const size = (await stat(path).catch(() => ({ size: 0 }))).size;
        if (inUploads) {
          if (options.parts && /^\d+$/.test(entry.name)) total += size;
        } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
          const key = `${rel}${entry.name.slice(0, -OBJECT_SUFFIX.length)}`;
          if (key.startsWith(keyPrefix)) total += size;
        }
      }
    };
    await walk(root, '', false);
    return total;
  }

  private async boot(): Promise<void> {
    const bin = join(dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin/s3rver.js');
    // Silent (-s): no request log, only the line that says it listens.
    const args = [bin, '-s', '-d', this.dir, '-a', '127.0.0.1', '-p', String(this.port)];
    const child = spawn(process.execPath, [...args, '--configure-bucket', this.bucket], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    await awaitReady(child, 's3rver', (output) => output.includes('S3rver listening'), 10_000);
  }

  async destroy(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts s3rver on a free loopback port with a directory and a bucket of its own. */
export function startTestS3(bucket?: string): Promise<TestS3> {
  return TestS3.start(bucket);
}
