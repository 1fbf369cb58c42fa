import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '@camfleet/test-support';
import { afterAll, expect, it } from 'vitest';
import { podPerSuite } from '../testing/wire.js';

const suite = podPerSuite();
const dir = mkdtempSync(join(tmpdir(), 'camfleet-ci-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CI step the README shows, as written there. */
function pipelineScript(): string {
  const readme = readFileSync(fileURLToPath(new URL('../../../../README.md', import.meta.url)), 'utf8');
  const script = /```sh\n(#!\/usr\/bin\/env bash\n# publish-canary\.sh[\s\S]*?)```/.exec(readme)?.[1];
  if (!script) throw new Error('README.md has no publish-canary.sh block');
  return script;
}

/** Runs a script with bash, as a CI step does: its exit code and output. */
async function runStep(file: string, env: Record<string, string>) {
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', [file], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? null, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

it('the CI step the README shows ships an artifact to a canary and then everyone, with curl alone', async () => {
  const { pod } = suite;
  const { token } = await pod.admin.client.tokens.create.mutate({ name: 'ci', role: 'operator' });
  // Cameras of the selected site that install whatever they are offered; one elsewhere.
  const cameras = await Promise.all(
    ['ci-cam-1', 'ci-cam-2', 'ci-other'].map(async (id) => {
      const camera = await pod.connectDevice(id);
      const site = id === 'ci-other' ? 'elsewhere' : 'ci-canary';
      await camera.client.device.register.mutate({
        model: 'cam-x',
        firmwareVersion: '1.0.0',
        labels: { site },
      });
      return camera;
    }),
  );
  const installs = cameras.slice(0, 2).map(async (camera) => {
    const offer = await waitFor(() => camera.offers[0], { what: 'an offer', timeoutMs: 20_000 });
    await camera.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
      status: 'succeeded',
      firmwareVersion: offer.patch.version,
    });
    return offer;
  });

  const artifact = join(dir, 'firmware.swu');
  const bytes = randomBytes(64 * 1024);
  writeFileSync(artifact, bytes);
  const script = join(dir, 'publish-canary.sh');
  writeFileSync(script, pipelineScript());
  const step = await runStep(script, {
    FLEET_URL: pod.url,
    FLEET_TOKEN: token,
    ARTIFACT: artifact,
    NAME: 'cam-fw',
    VERSION: '2.4.0+ci.7',
    SELECTOR: 'site=ci-canary',
    CANARY: '50',
    POLL_SECONDS: '0.2',
    MAX_POLLS: '100',
  });
  expect(step.code, `${step.stdout}\n${step.stderr}`).toBe(0);

  const rolloutId = /rollout (ro_[a-z0-9]+)/.exec(step.stdout)?.[1] ?? '';
  const rollout = await pod.admin.client.rollout.get.query({ rolloutId });
  expect(rollout).toMatchObject({
    status: 'completed',
    waves: [50, 100],
    target: { kind: 'selector', selector: 'site=ci-canary' },
    failureThreshold: 0.2,
    onFailure: 'abort',
    createdBy: 'ci',
    targeted: 2,
    counts: { succeeded: 2, failed: 0 },
    patch: { name: 'cam-fw', version: '2.4.0+ci.7' },
  });
  const offers = await Promise.all(installs);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  for (const offer of offers) expect(offer.patch.artifact).toMatchObject({ sha256, size: bytes.length });
  expect(cameras[2]?.offers).toEqual([]);
});
