import { TRPCClientError } from '@camfleet/client';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { failure, podPerSuite } from './testing/wire.js';

// Its own pod: what the devices list holds is this file's alone.
const suite = podPerSuite();

/** Clears the screen, retitles the terminal and rings: what an older version stored as a model. */
const HOSTILE = 'cam\u001b[2J\u001b]0;owned\u0007';

const messageOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error.message;
    throw error;
  }
  throw new Error('expected the call to fail');
};

describe('clean strings over a real WebSocket', () => {
  it('refuses a registration whose model holds terminal escapes, with a clear message, and stores none of it', async () => {
    const device = await suite.pod.connectDevice('clean-1');
    // Enrolling made the device (an id, a credential, no model yet): what it must still be after.
    const before = await suite.pod.admin.client.devices.get.query({ deviceId: 'clean-1' });
    const register = () =>
      device.client.device.register.mutate({
        model: HOSTILE,
        firmwareVersion: '1.0',
        labels: { site: 'north' },
      });
    expect(await failure(register())).toEqual({ trpc: 'BAD_REQUEST', fleet: null });
    const message = await messageOf(register());
    expect(message).toContain('control characters are not allowed (U+001B at 3)');
    expect(message).toContain('model');
    // The message names the character; it never echoes it.
    expect(message).not.toContain('\u001b');
    expect(message).not.toContain('\u0007');

    const page = await suite.pod.admin.client.devices.list.query({ limit: 1000 });
    expect(page.devices.find((d) => d.id === 'clean-1')).toEqual(before.device);
    expect(before.device.labels).toEqual({});
    expect(JSON.stringify(page)).not.toContain('owned');
    expect(JSON.stringify(page)).not.toContain('\\u001b');
  });

  it('refuses bidi overrides in a label and C1 controls in a firmware version the same way', async () => {
    const device = await suite.pod.connectDevice('clean-2');
    const before = await suite.pod.admin.client.devices.get.query({ deviceId: 'clean-2' });
    const labelled = await messageOf(
      device.client.device.register.mutate({
        model: 'm',
        firmwareVersion: '1',
        labels: { site: 'north\u202eevil' },
      }),
    );
    expect(labelled).toContain('bidirectional control characters are not allowed (U+202E at 5)');
    const firmware = await messageOf(
      device.client.device.register.mutate({ model: 'm', firmwareVersion: '1\u009b' }),
    );
    expect(firmware).toContain('control characters are not allowed (U+009B at 1)');
    expect(await suite.pod.admin.client.devices.get.query({ deviceId: 'clean-2' })).toEqual(before);
  });

  it('takes ordinary Unicode as it is', async () => {
    const device = await suite.pod.connectDevice('clean-3');
    await device.client.device.register.mutate({
      model: 'Kamera Süd 北',
      firmwareVersion: '2.0-β',
      labels: { site: 'Zürich 📷' },
    });
    const { device: stored } = await suite.pod.admin.client.devices.get.query({ deviceId: 'clean-3' });
    expect(stored).toMatchObject({
      model: 'Kamera Süd 北',
      firmwareVersion: '2.0-β',
      labels: { site: 'Zürich 📷' },
    });
  });

  it("turns tab, CR and LF in a failed report's error into spaces, and refuses an escape there", async () => {
    const device = await suite.pod.connectDevice('clean-4');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await suite.pod.publishAndRollOut({
      target: { kind: 'devices', deviceIds: ['clean-4'] },
    });
    const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === rollout.id), {
      what: 'the offer',
    });
    const report = (error: string) =>
      device.client.device.report.mutate({
        deliveryId: offer.deliveryId,
        attempt: offer.attempt,
        status: 'failed',
        error,
      });
    expect(await messageOf(report('flash\u001b[31m failed'))).toContain('control characters are not allowed');
    await report('flash failed:\n\tsector 7\r\nretrying');
    const detail = await suite.pod.admin.client.devices.get.query({ deviceId: 'clean-4' });
    expect(detail.deliveries.find((d) => d.rolloutId === rollout.id)?.lastError).toBe(
      'flash failed:  sector 7  retrying',
    );
  });
});
