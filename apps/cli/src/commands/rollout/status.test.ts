import type { RolloutStatus } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { NOW, rolloutFixture, run, wavedFixture } from '../../test-helpers.js';

const ID = 'ro_xyz789';

describe('rollout status', () => {
  const waved = wavedFixture(
    [1, 10, 100],
    [{ succeeded: 1 }, { succeeded: 7, failed: 1, verifying: 1, queued: 1 }],
    {
      target: { kind: 'selector', selector: 'site=berlin' },
      successThreshold: 0.95,
      soakMs: 600_000,
      maxInFlight: 50,
      maxPerMinute: 600,
      ramp: { startPerMinute: 10, factor: 2, everySuccesses: 50 },
      failureThreshold: 0.1,
      minSample: 20,
      onFailure: 'abort',
      countTimeouts: true,
      snapshot: true,
      supersede: true,
      gate: { kind: 'success', wave: 1, needed: 0.95, reached: 0.8 },
    },
  );

  async function status(value: RolloutStatus, ...flags: string[]) {
    return run(['rollout', 'status', ID, ...flags], { routes: { 'rollout.get': () => value } });
  }

  it('shows target, waves, gate, limits and health', async () => {
    const { stdout, code } = await status(waved);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Status\s+active\n/);
    expect(stdout).toMatch(
      /Target\s+devices matching 'site=berlin' \(snapshot: devices that match later do not join\)/,
    );
    expect(stdout).toMatch(/Wave\s+2\/3 open: 1% → 10% → 100%; advance auto at 95% success, then soak 10m\n/);
    expect(stdout).toMatch(/Gate\s+waiting for wave 2 to reach 95% success \(80% now\)\n/);
    expect(stdout).toMatch(
      /Limits\s+max 50 in flight, max 600\/min, ramp from 10\/min, x2 every 50 successes\n/,
    );
    expect(stdout).toMatch(/Health\s+abort at 10% failed, once 20 finished \(timeouts count as failures\)\n/);
    expect(stdout).toMatch(/Policy\s+.*, supersedes older rollouts\n/);
    expect(stdout).toMatch(/Progress\s+9\/11 finished \(81%\), 2 in progress\n/);
  });

  it('has a table of the waves, verifying counted as in progress', async () => {
    const { stdout } = await status(waved);
    const lines = stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('WAVE'));
    expect(lines[head]).toMatch(
      /^WAVE\s+PERCENT\s+STATE\s+TARGETED\s+SUCCEEDED\s+FAILED\s+CANCELED\s+IN PROGRESS$/,
    );
    expect(lines[head + 1]).toMatch(/^\s*1\s+1%\s+opened\s+1\s+1\s+0\s+0\s+0$/);
    expect(lines[head + 2]).toMatch(/^\s*2\s+10%\s+current\s+10\s+7\s+1\s+0\s+2$/);
    expect(lines[head + 3]).toMatch(/^\s*3\s+100%\s+waiting\s+0\s+0\s+0\s+0\s+0$/);
    expect(stdout).toMatch(/\nverifying\s+1\n/);
  });

  it('shows who paused it and why', async () => {
    const paused = {
      ...waved,
      status: 'paused' as const,
      reason: 'maintenance window',
      statusBy: 'bob',
      statusAt: NOW - 30_000,
      gate: { kind: 'paused' as const, reason: 'maintenance window' },
    };
    const { stdout } = await status(paused);
    expect(stdout).toMatch(
      /Status\s+paused since 2025-03-01 11:59:30Z \(30s ago\), by bob: maintenance window\n/,
    );
    expect(stdout).toMatch(/Gate\s+paused: maintenance window\n/);
  });

  it.each([
    [{ kind: 'operator', wave: 1 }, `waiting for an operator to open wave 2: fleet rollout advance ${ID}`],
    [{ kind: 'soak', wave: 0, until: NOW + 30 * 60_000 }, 'soaking until 12:30:00Z (in 30m)'],
    [{ kind: 'soak', wave: 0, until: NOW + 36 * 3_600_000 }, 'soaking until 2025-03-03 00:00:00Z (in 36h)'],
    [
      { kind: 'success', wave: 0, needed: 1, reached: 0.5 },
      'waiting for wave 1 to reach 100% success (50% now)',
    ],
    [{ kind: 'paused', reason: '' }, 'paused'],
  ] as const)('gate %j', async (gate, text) => {
    const { stdout } = await status(wavedFixture([10, 100], [{ succeeded: 1 }], { gate }));
    expect(stdout).toContain(`Gate       ${text}\n`);
  });

  it('leaves the gate out when nothing holds the rollout back, and says when there are no limits', async () => {
    const { stdout } = await status(rolloutFixture({ queued: 1 }));
    expect(stdout).not.toMatch(/Gate/);
    expect(stdout).toMatch(/Wave\s+1\/1: 100%\n/);
    expect(stdout).toMatch(/Target\s+all devices\n/);
    expect(stdout).toMatch(/Limits\s+none\n/);
    expect(stdout).toMatch(/Health\s+no failure threshold\n/);
  });

  it('shows manual advance, and the devices of a device list', async () => {
    const ids = ['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-5', 'cam-6', 'cam-7'];
    const { stdout } = await status(
      wavedFixture([50, 100], [{ succeeded: 3 }], {
        advance: 'manual',
        target: { kind: 'devices', deviceIds: ids },
      }),
    );
    expect(stdout).toMatch(/Target\s+7 devices: cam-1, cam-2, cam-3, cam-4, cam-5 \(\+2 more\)\n/);
    expect(stdout).toMatch(
      /Wave\s+1\/2 open: 50% → 100%; advance manual \(fleet rollout advance ro_xyz789\)\n/,
    );
  });

  it('--json prints the RolloutStatus unchanged', async () => {
    const result = await status(waved, '--json');
    expect(JSON.parse(result.stdout)).toEqual(waved);
  });
});
