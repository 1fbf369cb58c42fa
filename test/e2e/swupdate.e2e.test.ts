import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { buildSwu, makeSigningKey, type SigningKey, SwupdateAgent, waitFor } from '@camfleet/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestFleet } from './harness.js';

/**
 * Debian's real, unmodified `swupdate` (suricatta, hawkBit mode) as a camera of a camfleet fleet:
 * two pods as processes, the agent polling one of them, operators on the other through `fleet`.
 */
const TENANT = 'cams';
let fleet: TestFleet;
let signing: SigningKey;
const agents: SwupdateAgent[] = [];

beforeAll(async () => {
  fleet = await TestFleet.up(2, {
    podEnv: {
      FLEET_DDI_TENANT: TENANT,
      FLEET_DDI_POLL_ACTIVE_SECONDS: '1',
      FLEET_DDI_POLL_IDLE_SECONDS: '1',
    },
  });
  signing = await makeSigningKey(fleet.workDir);
});
/** Agents of one test stop with it: a camera runs one agent at a time. (Each test names its cameras.) */
afterEach(async () => {
  for (const started of agents.splice(0)) await started.stop().catch(() => undefined);
});

/** The state of the camera's delivery of a rollout. */
async function deliveryState(deviceId: string, rolloutId: string): Promise<string | undefined> {
  const device = await fleet.admin.client.devices.get.query({ deviceId });
  return device.deliveries.find((d) => d.rolloutId === rolloutId)?.state;
}

/** The payload the agent installs, once it is all there (the agent writes it while it reports). */
const installed = (path: string, payload: Buffer) =>
  waitFor(async () => (await readFile(path).catch(() => null))?.equals(payload) ?? false, {
    timeoutMs: 30_000,
    what: `${path} to hold the payload`,
  });
afterAll(async () => {
  await fleet?.down();
});

/** A provisioned camera: its id and secret (the agent's target token). */
async function provision(deviceId: string): Promise<string> {
  const { secret } = await fleet.admin.client.devices.credentials.provision.mutate({
    deviceId,
    model: 'swu-cam',
  });
  return secret;
}

function agent(deviceId: string, token: string, options: { pod?: number; confirm?: boolean } = {}) {
  return SwupdateAgent.start({
    serverUrl: fleet.pods[options.pod ?? 1]?.url ?? '',
    tenant: TENANT,
    controllerId: deviceId,
    targetToken: token,
    certPath: signing.certPath,
    workDir: join(fleet.workDir, `agent-${deviceId}-${agents.length}`),
    confirmSuccess: options.confirm ?? false,
  }).then((started) => {
    agents.push(started);
    return started;
  });
}

/** A signed image installing `payload` at `installPath`, published with `fleet patch publish`. */
async function publish(version: string, installPath: string, payload: Buffer, corruptHash = false) {
  const swu = await buildSwu({
    dir: fleet.workDir,
    signing,
    version,
    payloadName: 'payload.bin',
    payload,
    installPath,
    corruptHash,
  });
  const patch = await fleet.fleetJson<{ id: string }>([
    'patch',
    'publish',
    swu.path,
    '--name',
    'cam-fw',
    '--version',
    version,
  ]);
  return patch.id;
}

describe('SWUpdate (suricatta, hawkBit DDI) against camfleet', () => {
  it('installs a signed image, confirms it after its restart, and the rollout counts it with a WebSocket camera', {
    timeout: 150_000,
  }, async () => {
    const secret = await provision('swu-1');
    const installPath = join(fleet.workDir, 'installed', 'swu-1', 'payload.bin');
    const payload = randomBytes(256 * 1024);
    const patchId = await publish('2.0.0', installPath, payload);
    const sim = fleet.sim(['--devices', '3', '--prefix', 'ws-swu']);
    await fleet.waitOnline(3);
    const first = await agent('swu-1', secret);
    // Three cameras on the WebSocket protocol and the SWUpdate one, in one rollout.
    const rolloutId = await fleet.rollOutPatch(patchId, [
      '--devices',
      'swu-1,ws-swu-0001,ws-swu-0002,ws-swu-0003',
      '--ack-timeout',
      '60s',
    ]);
    // Installed and waiting for its restart ("pending testing"): camfleet has it as verifying.
    await waitFor(async () => (await deliveryState('swu-1', rolloutId)) === 'verifying', {
      timeoutMs: 60_000,
      what: 'the agent to install the image',
    });
    await installed(installPath, payload);
    // The "reboot": the agent stops and starts again confirming success.
    await first.stop();
    const confirming = await agent('swu-1', secret, { confirm: true });
    const done = await fleet.waitSettled(rolloutId, { timeoutMs: 60_000 }).catch(async (error: unknown) => {
      console.log(
        JSON.stringify(await fleet.status(rolloutId)),
        JSON.stringify((await fleet.admin.client.devices.get.query({ deviceId: 'swu-1' })).history),
        confirming.log().split('\n').slice(-30).join('\n'),
      );
      throw error;
    });
    // One rollout, the DDI camera and the WebSocket cameras counted together.
    expect(done.counts).toMatchObject({ succeeded: 4, failed: 0 });
    const device = await fleet.admin.client.devices.get.query({ deviceId: 'swu-1' });
    expect(device.device).toMatchObject({ firmwareVersion: '2.0.0', labels: { protocol: 'ddi' } });
    // What the agent reported on the way, in the delivery's history.
    const states = device.history.map((entry) => entry.to);
    expect(states).toEqual(expect.arrayContaining(['offered', 'downloading', 'succeeded']));
    await sim.finish();
  });

  it('reports an install that fails its hash check as failed, and retries it per the rollout', {
    timeout: 150_000,
  }, async () => {
    const secret = await provision('swu-bad');
    const installPath = join(fleet.workDir, 'installed', 'swu-bad', 'payload.bin');
    const patchId = await publish('3.0.0', installPath, randomBytes(64 * 1024), true);
    const bad = await agent('swu-bad', secret);
    const rolloutId = await fleet.rollOutPatch(patchId, [
      '--devices',
      'swu-bad',
      '--max-attempts',
      '2',
      '--retry-base',
      '1s',
      '--retry-max',
      '1s',
    ]);
    const settled = await waitFor(
      async () => {
        const status = await fleet.status(rolloutId);
        return status.counts.failed === 1 ? status : null;
      },
      { timeoutMs: 90_000, what: 'both attempts to fail' },
    ).catch(async (error: unknown) => {
      console.log(JSON.stringify(await fleet.status(rolloutId)), bad.log().split('\n').slice(-40).join('\n'));
      throw error;
    });
    expect(settled.counts.succeeded).toBe(0);
    const device = await fleet.admin.client.devices.get.query({ deviceId: 'swu-bad' });
    const delivery = device.deliveries.find((d) => d.rolloutId === rolloutId);
    expect(delivery).toMatchObject({ state: 'failed', attempt: 2 });
    await expect(readFile(installPath)).rejects.toThrow();
  });

  it('takes a cancel that comes before the download: the agent is told and the delivery is canceled', async () => {
    const secret = await provision('swu-cancel');
    const installPath = join(fleet.workDir, 'installed', 'swu-cancel', 'payload.bin');
    const patchId = await publish('4.0.0', installPath, randomBytes(16 * 1024));
    const rolloutId = await fleet.rollOutPatch(patchId, ['--devices', 'swu-cancel', '--ack-timeout', '60s']);
    // The camera's agent polls once and is offered the action, then is away (powered off) before
    // it downloads anything; the operator cancels meanwhile.
    const poll = await fetch(`${fleet.pods[1]?.url}/${TENANT}/controller/v1/swu-cancel`, {
      headers: { authorization: `TargetToken ${secret}` },
    });
    expect(((await poll.json()) as { _links: object })._links).toHaveProperty('deploymentBase');
    expect((await fleet.status(rolloutId)).counts.offered).toBe(1);
    const canceled = await fleet.fleet(['rollout', 'cancel', rolloutId]);
    expect(canceled.code, canceled.stderr).toBe(0);
    // Back on, the agent finds the cancel request instead of the deployment, and confirms it.
    const back = await agent('swu-cancel', secret);
    await waitFor(async () => (await fleet.status(rolloutId)).counts.canceled === 1, {
      timeoutMs: 60_000,
      what: 'the agent to confirm the cancel',
    });
    expect(back.log()).toMatch(/cancel/i);
    await expect(readFile(installPath)).rejects.toThrow();
  });

  it('keeps polling through a load balancer when the pod it reached is killed, and the install completes', async () => {
    const secret = await provision('swu-lb');
    const installPath = join(fleet.workDir, 'installed', 'swu-lb', 'payload.bin');
    const payload = randomBytes(64 * 1024);
    const patchId = await publish('5.0.0', installPath, payload);
    // A TCP balancer in front of the pods (a Kubernetes Service): new connections go to the first live pod.
    let target = fleet.pods[1];
    const balancer = createServer((client) => {
      const upstream = connect(Number(new URL(target?.url ?? '').port), '127.0.0.1');
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop);
      upstream.on('error', drop);
    });
    await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve));
    try {
      const address = balancer.address() as AddressInfo;
      const started = await SwupdateAgent.start({
        serverUrl: `http://127.0.0.1:${address.port}`,
        tenant: TENANT,
        controllerId: 'swu-lb',
        targetToken: secret,
        certPath: signing.certPath,
        workDir: join(fleet.workDir, 'agent-swu-lb'),
      });
      agents.push(started);
      await started.waitForLog(/Suricatta awakened/, 30_000);
      // The pod the agent polls dies; the balancer sends it to the other one from then on.
      await fleet.pods[1]?.kill('SIGKILL');
      target = fleet.pods[0];
      const rolloutId = await fleet.rollOutPatch(patchId, ['--devices', 'swu-lb', '--ack-timeout', '60s']);
      await waitFor(async () => (await deliveryState('swu-lb', rolloutId)) === 'verifying', {
        timeoutMs: 60_000,
        what: 'the agent to install through the other pod',
      });
      await installed(installPath, payload);
    } finally {
      balancer.close();
    }
  });

  it('refuses a wrong target token: 401 on every poll, nothing installed, the failure audited', async () => {
    await provision('swu-wrong');
    // Pod 1: the test before killed pod 2.
    const wrong = await agent('swu-wrong', 'not-the-secret-of-this-camera', { pod: 0 });
    await wrong.waitForLog(/401/, 30_000);
    const audit = await fleet.admin.client.audit.list.query({ limit: 200 });
    expect(
      audit.some((entry) => entry.action === 'auth.device_secret' && entry.actor === 'device:swu-wrong'),
    ).toBe(true);
    const device = await fleet.admin.client.devices.get.query({ deviceId: 'swu-wrong' });
    expect(device.device.labels.protocol).toBeUndefined();
  });
});
