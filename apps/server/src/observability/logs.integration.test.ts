import { createAdminClient } from '@camfleet/client';
import { waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { ADMIN_TOKEN, ENROLL_TOKEN, failure, PodUnderTest } from '../testing/wire.js';

/** Everything the pod logs, as written (JSON lines), at the most verbose level. */
const written: string[] = [];
const sink = { write: (line: string) => void written.push(line) };

type Line = Record<string, unknown> & { msg?: string };
const lines = (): Line[] => written.map((line) => JSON.parse(line) as Line);

let t: PodUnderTest;
beforeAll(async () => {
  t = await PodUnderTest.start({}, createLogger('trace', { service: 'camfleet-server' }, sink));
});
afterAll(async () => {
  await t.close();
});

function expectNoSecrets(secrets: string[]): void {
  const all = written.join('');
  for (const secret of secrets) expect(all.includes(secret), `a secret was logged: ${secret}`).toBe(false);
}

describe('logs', () => {
  it('log a refused device with its ids and the reason, never the presented secret', async () => {
    const enrolled = await t.enroll('log-dev');
    const enrolledSecret = 'secret' in enrolled ? enrolled.secret : '';
    expect(enrolledSecret.length).toBeGreaterThan(0);
    const wrongSecret = 'wrong-secret-0f3a9c1e77d2';
    const device = await t.connectDevice('log-dev', { secret: wrongSecret });
    await waitFor(() => device.rejected(), { what: 'the rejection' });
    const refused = await waitFor(
      () => lines().find((l) => l.msg === 'connection refused' && l.deviceId === 'log-dev'),
      { what: 'the refusal logged' },
    );
    expect(refused).toMatchObject({ level: 30, reason: 'wrong device secret' });
    expect(typeof refused.connectionId).toBe('string');

    const wrongAdmin = 'wrong-admin-token-5be81d04';
    const intruder = createAdminClient(t.url, wrongAdmin);
    expect(await failure(intruder.client.patch.list.query())).toMatchObject({ trpc: 'UNAUTHORIZED' });
    intruder.close();

    expectNoSecrets([wrongSecret, enrolledSecret, wrongAdmin, ADMIN_TOKEN, ENROLL_TOKEN]);
  });

  it('log a provisioned device’s connection with its ids, never its secret', async () => {
    const credential = await t.admin.client.devices.credentials.provision.mutate({ deviceId: 'log-prov' });
    expect(credential.secret.length).toBeGreaterThan(0);
    const device = await t.connectDevice('log-prov', { secret: credential.secret });
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const opened = await waitFor(
      () => lines().find((l) => l.msg === 'connection opened' && l.deviceId === 'log-prov'),
      { what: 'the connection logged' },
    );
    expect(opened).toMatchObject({ level: 20, kind: 'device' });
    device.wsClient.close();
    await waitFor(
      () =>
        lines().find(
          (l) =>
            l.msg === 'connection closed' &&
            l.connectionId === opened.connectionId &&
            l.deviceId === 'log-prov',
        ),
      { what: 'the disconnect logged' },
    );

    expectNoSecrets([credential.secret, ADMIN_TOKEN, ENROLL_TOKEN]);
  });

  it('redact secrets by path should a log call ever carry one', () => {
    const before = written.length;
    const log = createLogger('info', {}, sink);
    log.info(
      {
        token: 'leak-1-token',
        secret: 'leak-2-secret',
        connectionParams: { deviceId: 'd', secret: 'leak-3-params' },
        req: { headers: { authorization: 'Bearer leak-4-header' } },
        params: { enrollToken: 'leak-5-enroll' },
      },
      'careless',
    );
    expect(written.length).toBe(before + 1);
    const line = written.at(-1) ?? '';
    expect(line).toContain('careless');
    expect(line).not.toMatch(/leak-\d/);
  });
});
