import { waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodUnderTest } from '../testing/wire.js';

/**
 * The DDI routes over real HTTP against a real pod and Redis, spoken the way hawkBit documents
 * them. (The proof with the real agent, SWUpdate, is the end-to-end suite's.)
 */
let pod: PodUnderTest;
beforeAll(async () => {
  pod = await PodUnderTest.start({ FLEET_DDI_TENANT: 'cams', FLEET_DDI_POLL_ACTIVE_SECONDS: '5' });
});
afterAll(async () => {
  await pod?.close();
});

const ddi = (path: string, token: string, init: RequestInit = {}) =>
  fetch(`${pod.url}/cams/controller/v1/${path}`, {
    ...init,
    headers: { authorization: `TargetToken ${token}`, accept: 'application/json', ...init.headers },
  });
const feedback = (path: string, token: string, execution: string, finished = 'none', progress?: object) =>
  ddi(`${path}/feedback`, token, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: path.split('/').at(-1),
      status: { execution, result: { finished, ...(progress ? { progress } : {}) }, details: ['step'] },
    }),
  });

interface Root {
  config: { polling: { sleep: string } };
  _links: { deploymentBase?: { href: string }; cancelAction?: { href: string } };
}

async function provision(deviceId: string): Promise<string> {
  const { secret } = await pod.admin.client.devices.credentials.provision.mutate({
    deviceId,
    model: 'cam-ddi',
  });
  return secret;
}

describe('hawkBit DDI controller API', () => {
  it('refuses a wrong tenant (404) and a wrong or missing token (401), changing nothing', async () => {
    const secret = await provision('ddi-auth');
    expect(
      (
        await fetch(`${pod.url}/other/controller/v1/ddi-auth`, {
          headers: { authorization: `TargetToken ${secret}` },
        })
      ).status,
    ).toBe(404);
    expect((await ddi('ddi-auth', 'wrong-token')).status).toBe(401);
    expect((await fetch(`${pod.url}/cams/controller/v1/ddi-auth`)).status).toBe(401);
    const other = await provision('ddi-other');
    expect((await ddi('ddi-auth', other)).status).toBe(401);
    const device = await pod.admin.client.devices.get.query({ deviceId: 'ddi-auth' });
    expect(device.device.labels.protocol).toBeUndefined();
  });

  it('rolls a patch out to a DDI camera and a WebSocket camera together; stale feedback changes nothing', async () => {
    const secret = await provision('ddi-1');
    const idle = (await (await ddi('ddi-1', secret)).json()) as Root;
    expect(idle).toEqual({ config: { polling: { sleep: '00:05:00' } }, _links: {} });
    const ws = await pod.connectDevice('ws-1');
    await ws.client.device.register.mutate({ model: 'cam', firmwareVersion: '1.0.0' });
    const patch = await pod.admin.client.patch.publish.mutate({ name: 'fw-ddi', version: '2.0.0' });
    const rollout = await pod.rollOut({
      patchId: patch.id,
      target: { kind: 'devices', deviceIds: ['ddi-1', 'ws-1'] },
    });

    const root = (await (await ddi('ddi-1', secret)).json()) as Root;
    expect(root.config.polling.sleep).toBe('00:00:05');
    const href = root._links.deploymentBase?.href ?? '';
    const path = href.slice(href.indexOf('/controller/v1/') + '/controller/v1/'.length);
    const deployment = (await (await ddi(path, secret)).json()) as {
      id: string;
      deployment: { update: string; chunks: Array<{ name: string; version: string }> };
    };
    expect(deployment.deployment).toMatchObject({
      update: 'forced',
      chunks: [{ name: 'fw-ddi', version: '2.0.0' }],
    });
    // Polling again names the same action: one attempt, one action.
    expect(((await (await ddi('ddi-1', secret)).json()) as Root)._links.deploymentBase?.href).toBe(href);

    expect((await feedback(path, secret, 'proceeding')).status).toBe(200);
    expect((await feedback(path, secret, 'proceeding', 'none', { cnt: 1, of: 1 })).status).toBe(200);
    let status = await pod.admin.client.rollout.get.query({ rolloutId: rollout.id });
    expect(status.counts.verifying).toBe(1);
    expect((await feedback(path, secret, 'closed', 'success')).status).toBe(200);
    // Repeating it is harmless; an action id of another attempt is gone.
    expect((await feedback(path, secret, 'closed', 'success')).status).toBe(200);
    const stale = path.replace(/\/(\d+)$/, (_, id: string) => `/${Number(id) + 1}`);
    expect((await feedback(stale, secret, 'closed', 'failure')).status).toBe(410);

    await waitFor(() => ws.offers.length > 0, { what: 'the WebSocket camera’s offer' });
    const offer = ws.offers[0]!;
    await ws.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
      status: 'succeeded',
      firmwareVersion: '2.0.0',
    });
    status = await pod.admin.client.rollout.get.query({ rolloutId: rollout.id });
    expect(status.counts.succeeded).toBe(2);
    expect(status.status).toBe('completed');
    const device = await pod.admin.client.devices.get.query({ deviceId: 'ddi-1' });
    expect(device.device).toMatchObject({ firmwareVersion: '2.0.0', labels: { protocol: 'ddi' } });
  });

  it('takes configData as the inventory and refuses attributes that are not labels', async () => {
    const secret = await provision('ddi-config');
    const put = (data: object) =>
      ddi('ddi-config/configData', secret, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mode: 'merge', data }),
      });
    expect((await put({ model: 'swu-cam', version: '1.0.0', site: 'north' })).status).toBe(200);
    expect((await put({ 'bad key': 'x' })).status).toBe(400);
    const device = await pod.admin.client.devices.get.query({ deviceId: 'ddi-config' });
    expect(device.device).toMatchObject({
      model: 'swu-cam',
      firmwareVersion: '1.0.0',
      labels: { site: 'north', protocol: 'ddi' },
    });
  });
});
