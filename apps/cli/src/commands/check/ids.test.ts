import { hasControls } from '@camfleet/present';
import { describe, expect, it } from 'vitest';
import { run, serverError } from '../../test-helpers.js';

const bad = {
  checked: 120,
  badCount: 3,
  bad: [
    {
      deviceId: 'site:north:cam-7',
      problem: "':' is not allowed (it cannot authenticate: Device <id>:<secret>)",
    },
    { deviceId: 'plant:cam-8', problem: "':' is not allowed (it cannot authenticate: Device <id>:<secret>)" },
  ],
};

describe('fleet check ids', () => {
  it('lists the stored ids that break the rule in a table, says how many, and exits 1', async () => {
    const r = await run(['check', 'ids'], { routes: { 'devices.checkIds': () => bad } });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[0]).toMatch(/^DEVICE ID\s+PROBLEM$/);
    expect(r.stdout).toContain('site:north:cam-7');
    expect(r.stdout).toContain('plant:cam-8');
    expect(r.stderr).toContain('120 device ids checked: 3 break the rule (2 listed; raise --limit)');
    expect(r.stderr).not.toContain('error:');
    expect(r.calls).toEqual([{ path: 'devices.checkIds', input: { limit: 1000 } }]);
  });

  it('exits 0 with a one-line all-clear when every id keeps the rule', async () => {
    const r = await run(['check', 'ids', '--limit', '5'], {
      routes: { 'devices.checkIds': () => ({ checked: 4, badCount: 0, bad: [] }) },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('4 device ids checked: all keep the rule');
    expect(r.calls[0]?.input).toEqual({ limit: 5 });
  });

  it('--json prints the answer as one document, with the same exit codes', async () => {
    const found = await run(['check', 'ids', '--json'], { routes: { 'devices.checkIds': () => bad } });
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout)).toEqual(bad);
    expect(found.stderr).toBe('');
    const clean = await run(['check', 'ids', '--json'], {
      routes: { 'devices.checkIds': () => ({ checked: 0, badCount: 0, bad: [] }) },
    });
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual({ checked: 0, badCount: 0, bad: [] });
  });

  it('prints a stored id holding escapes escaped, and refuses a bad --limit before sending anything', async () => {
    const hostile = {
      checked: 1,
      badCount: 1,
      bad: [{ deviceId: 'cam\u001b]0;owned\u0007', problem: 'not a device id' }],
    };
    const r = await run(['check', 'ids'], { routes: { 'devices.checkIds': () => hostile } });
    expect(r.stdout).toContain('cam\\u001b]0;owned\\u0007');
    expect(hasControls(r.stdout.replaceAll('\n', ''))).toBe(false);
    const usage = await run(['check', 'ids', '--limit', '0']);
    expect(usage.code).toBe(2);
    expect(usage.connects).toEqual([]);
  });

  it('the ids it lists can be shown and revoked, never provisioned again', async () => {
    const detail = { device: { id: 'plant:cam-8' }, deliveries: [], history: [] };
    const shown = await run(['device', 'show', 'plant:cam-8', '--json'], {
      routes: { 'devices.get': () => detail },
    });
    expect(shown.code).toBe(0);
    expect(shown.calls).toEqual([{ path: 'devices.get', input: { deviceId: 'plant:cam-8' } }]);
    const revoked = await run(['device', 'revoke', 'plant:cam-8'], {
      routes: { 'devices.credentials.revoke': () => ({ deviceId: 'plant:cam-8', revoked: true }) },
    });
    expect(revoked.code).toBe(0);
    const provisioned = await run(['device', 'provision', 'plant:cam-9']);
    expect(provisioned.code).toBe(2);
    expect(provisioned.stderr).toContain('letters, digits and . _ - only');
    expect(provisioned.connects).toEqual([]);
  });

  it('a server that refuses the token is exit 5, as everywhere', async () => {
    const r = await run(['check', 'ids'], {
      routes: {
        'devices.checkIds': () => {
          throw serverError('UNAUTHORIZED', 'UNAUTHORIZED', 'bad token', 401);
        },
      },
    });
    expect(r.code).toBe(5);
  });
});
