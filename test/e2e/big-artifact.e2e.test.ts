import { spawn } from 'node:child_process';
import { ROOT } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';

/** What `pnpm big-artifact` prints (the fields this test reads). */
interface BigArtifactRun {
  ok: boolean;
  sizeBytes: number;
  cameras: number;
  succeeded: number;
  publishSeconds: number;
  downloadSeconds: number;
  podPeakRssMiB: { beforePublish: number[]; afterPublish: number[]; afterDownloads: number[] };
  podBytesServed: number;
  downloadResumes: number;
  checksumFailures: number;
  signatureRefusals: number;
}

function bigArtifact(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/big-artifact.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-20_000);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('a 2 GiB artifact', () => {
  it('is published from the CLI into S3 and downloaded through the pods by resuming cameras, with pod memory flat', {
    timeout: 15 * 60_000,
  }, async () => {
    const run = await bigArtifact(['--size', '2g', '--store', 's3', '--devices', '2']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as BigArtifactRun;
    expect(result).toMatchObject({
      ok: true,
      sizeBytes: 2 * 1024 ** 3,
      succeeded: 2,
      checksumFailures: 0,
      signatureRefusals: 0,
    });
    // Every download was cut at a random offset and resumed (--drop-download-rate 1).
    expect(result.downloadResumes).toBeGreaterThanOrEqual(2);
    expect(result.podBytesServed).toBeGreaterThanOrEqual(2 * result.sizeBytes);
    // Streamed both ways: each pod's peak grows by far less than the file (2048 MiB).
    const { beforePublish, afterPublish, afterDownloads } = result.podPeakRssMiB;
    for (const [i, before] of beforePublish.entries()) {
      expect(afterPublish[i] ?? Number.POSITIVE_INFINITY).toBeLessThan(before + 256);
      expect(afterDownloads[i] ?? Number.POSITIVE_INFINITY).toBeLessThan(before + 256);
    }
    console.info(
      `[e2e] 2 GiB through S3: publish ${result.publishSeconds.toFixed(0)} s, 2 downloads ${result.downloadSeconds.toFixed(0)} s, ` +
        `pod peak RSS ${beforePublish.join('/')} → ${afterPublish.join('/')} → ${afterDownloads.join('/')} MiB`,
    );
  });
});
