import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetError } from './errors.js';
import type { FleetContext, FleetService, Principal } from './port.js';
import { appRouter } from './router.js';
import { DeviceId, Labels } from './schemas.js';
import { createCallerFactory } from './trpc.js';

const createCaller = createCallerFactory(appRouter);

/** A FleetService that records what reached it and answers from small canned values. */
function recordingFleet(overrides: Partial<FleetService> = {}) {
  const calls: string[] = [];
  const audit: Array<Parameters<FleetService['recordAudit']>[0]> = [];
  const record =
    <T>(name: string, value: T) =>
    async (..._args: unknown[]) => {
      calls.push(name);
      return value;
    };
  const device = {
    id: 'cam-1',
    model: 'm',
    firmwareVersion: '1',
    labels: {},
    firstSeenAt: 1,
    lastSeenAt: 1,
    online: true,
    node: 'n',
  };
  const patch = {
    id: 'pat_1',
    name: 'fw',
    version: '1',
    notes: '',
    artifact: null,
    signature: null,
    createdAt: 1,
    createdBy: 'a',
  };
  const fleet: FleetService = {
    registerDevice: record('registerDevice', device),
    deviceOffers: () => {
      calls.push('deviceOffers');
      return (async function* () {})();
    },
    report: record('report', {
      deliveryId: 'ro_1:cam-1',
      attempt: 1,
      state: 'succeeded' as const,
      duplicate: false,
    }),
    publishPatch: record('publishPatch', patch),
    listPatches: record('listPatches', [patch]),
    getPatch: record('getPatch', { ...patch, storage: null, rollouts: [] }),
    deletePatch: record('deletePatch', { patchId: 'pat_1', deleted: true as const }),
    createRollout: record('createRollout', null as never),
    listRollouts: record('listRollouts', []),
    getRollout: record('getRollout', null as never),
    watchRollout: () => {
      calls.push('watchRollout');
      return (async function* () {})();
    },
    watchRollouts: () => {
      calls.push('watchRollouts');
      return (async function* () {})();
    },
    cancelRollout: record('cancelRollout', null as never),
    pauseRollout: record('pauseRollout', null as never),
    resumeRollout: record('resumeRollout', null as never),
    advanceRollout: record('advanceRollout', null as never),
    listEvents: record('listEvents', []),
    enrollDevice: record('enrollDevice', { deviceId: 'cam-1', secret: 's' }),
    provisionDevice: record('provisionDevice', { deviceId: 'cam-1', secret: 's' }),
    rotateDevice: record('rotateDevice', { deviceId: 'cam-1', secret: 's' }),
    revokeDevice: record('revokeDevice', { deviceId: 'cam-1', revoked: true as const }),
    createToken: record('createToken', null as never),
    listTokens: record('listTokens', []),
    revokeToken: record('revokeToken', null as never),
    createEnrollToken: record('createEnrollToken', null as never),
    listEnrollTokens: record('listEnrollTokens', []),
    revokeEnrollToken: record('revokeEnrollToken', null as never),
    recordAudit: async (entry) => {
      audit.push(entry);
    },
    listAudit: record('listAudit', []),
    followEvents: () => {
      calls.push('followEvents');
      return (async function* () {})();
    },
    listDevices: record('listDevices', { devices: [device], nextCursor: null }),
    getDevice: record('getDevice', { device, deliveries: [], history: [] }),
    stats: record('stats', { devices: 1, online: 1, patches: 1, rollouts: 0, nodes: [] }),
    watchStats: () => {
      calls.push('watchStats');
      return (async function* () {})();
    },
    ...overrides,
  };
  return { fleet, calls, audit };
}

const admin: Principal = { kind: 'admin', name: 'ops', role: 'admin' };
const viewer: Principal = { kind: 'admin', name: 'watcher', role: 'viewer' };
const cam1: Principal = { kind: 'device', deviceId: 'cam-1' };
const anonymous: Principal = { kind: 'anonymous' };

function caller(principal: Principal, fleet: FleetService) {
  const ctx: FleetContext = {
    principal,
    fleet,
    connection: { connectionId: 'c', subscriptions: { open: 0, max: 4 } },
  };
  return createCaller(ctx);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCError) return error.code;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('roles', () => {
  it('refuses admin calls without an admin principal, before reaching the fleet', async () => {
    const { fleet, calls } = recordingFleet();
    expect(await codeOf(caller(anonymous, fleet).patch.list())).toBe('UNAUTHORIZED');
    expect(await codeOf(caller(cam1, fleet).devices.list())).toBe('UNAUTHORIZED');
    expect(calls).toEqual([]);
  });

  it('lets a viewer read but not change anything', async () => {
    const { fleet, calls } = recordingFleet();
    await caller(viewer, fleet).patch.list();
    expect(await codeOf(caller(viewer, fleet).patch.publish({ name: 'fw', version: '2' }))).toBe('FORBIDDEN');
    expect(calls).toEqual(['listPatches']);
  });

  it('refuses device calls from anyone but a device', async () => {
    const { fleet, calls } = recordingFleet();
    const register = { model: 'm', firmwareVersion: '1' };
    expect(await codeOf(caller(admin, fleet).device.register(register))).toBe('UNAUTHORIZED');
    expect(calls).toEqual([]);
  });

  it('passes the device its own id, never one from the input', async () => {
    let seen = '';
    const { fleet } = recordingFleet({
      registerDevice: async (deviceId) => {
        seen = deviceId;
        return recordingFleet().fleet.registerDevice(deviceId, null, {
          model: 'm',
          firmwareVersion: '1',
          labels: {},
        });
      },
    });
    await caller(cam1, fleet).device.register({ model: 'm', firmwareVersion: '1', labels: {} });
    expect(seen).toBe('cam-1');
  });

  it('names the actor on changes', async () => {
    let actor = '';
    const { fleet } = recordingFleet({
      publishPatch: async (input, who) => {
        actor = who;
        return { ...input, id: 'pat_1', artifact: null, signature: null, createdAt: 1, createdBy: who };
      },
    });
    await caller(admin, fleet).patch.publish({ name: 'fw', version: '2' });
    expect(actor).toBe('ops');
  });
});

describe('whoami', () => {
  it('tells any admin token its name and role, and refuses a device', async () => {
    const { fleet } = recordingFleet();
    expect(await caller(viewer, fleet).tokens.whoami()).toEqual({ name: 'watcher', role: 'viewer' });
    expect(await caller(admin, fleet).tokens.whoami()).toEqual({ name: 'ops', role: 'admin' });
    await expect(caller({ kind: 'device', deviceId: 'cam-1' }, fleet).tokens.whoami()).rejects.toThrow();
  });
});

describe('audit', () => {
  it('records every mutating admin call, allowed or not, without secrets', async () => {
    const { fleet, audit } = recordingFleet();
    await caller(admin, fleet).patch.publish({ name: 'fw', version: '2' });
    await caller(viewer, fleet)
      .rollout.pause({ rolloutId: 'ro_1' })
      .catch(() => undefined);
    await caller(admin, fleet)
      .tokens.create({ name: 'ci', role: 'viewer' })
      .catch(() => undefined);
    await caller(admin, fleet).patch.list();
    expect(audit.map((a) => [a.actor, a.action, a.ok])).toEqual([
      ['ops', 'patch.publish', true],
      ['watcher', 'rollout.pause', false],
      ['ops', 'tokens.create', false],
    ]);
    expect(audit[1]?.error).toMatch(/role operator required/);
    expect(audit[0]?.input).toBe('{"name":"fw","version":"2"}');
  });

  it('redacts fields that look like secrets', async () => {
    const { fleet, audit } = recordingFleet();
    await caller(admin, fleet)
      .enrollTokens.create({ name: 'factory', uses: 10 })
      .catch(() => undefined);
    expect(audit[0]?.input).toBe('{"name":"factory","uses":10}');
  });
});

describe('enrollment', () => {
  it('lets an enrollee only enroll, as itself', async () => {
    const seen: Array<[string, string | null]> = [];
    const { fleet, calls } = recordingFleet({
      enrollDevice: async (deviceId, tokenId) => {
        seen.push([deviceId, tokenId]);
        return { deviceId, secret: 's' };
      },
    });
    const enrollee: Principal = { kind: 'enrollee', deviceId: 'cam-9', enrollTokenId: 'abc' };
    await caller(enrollee, fleet).device.enroll();
    expect(seen).toEqual([['cam-9', 'abc']]);
    expect(await codeOf(caller(enrollee, fleet).device.register({ model: 'm', firmwareVersion: '1' }))).toBe(
      'UNAUTHORIZED',
    );
    expect(await codeOf(caller(cam1, fleet).device.enroll())).toBe('FORBIDDEN');
    expect(calls).toEqual([]);
  });
});

describe('input validation', () => {
  const bad: Array<[string, (c: ReturnType<typeof caller>) => Promise<unknown>]> = [
    ['publish without version', (c) => c.patch.publish({ name: 'fw' } as never)],
    ['publish with a huge name', (c) => c.patch.publish({ name: 'x'.repeat(500), version: '1' })],
    [
      'publish with notes too long',
      (c) => c.patch.publish({ name: 'fw', version: '1', notes: 'n'.repeat(5000) }),
    ],
    ['get patch with a malformed id', (c) => c.patch.get({ patchId: '../etc' })],
    [
      'rollout with a string timeout',
      (c) => c.rollout.create({ patchId: 'pat_1', ackTimeoutMs: '60s' } as never),
    ],
    ['rollout with zero attempts', (c) => c.rollout.create({ patchId: 'pat_1', maxAttempts: 0 })],
    [
      'rollout with backoff max below base',
      (c) => c.rollout.create({ patchId: 'pat_1', retryBackoff: { baseMs: 5000, maxMs: 100 } }),
    ],
    ['rollout get with a malformed id', (c) => c.rollout.get({ rolloutId: 'nope' })],
    ['cancel with a number id', (c) => c.rollout.cancel({ rolloutId: 7 } as never)],
    ['pause with a huge reason', (c) => c.rollout.pause({ rolloutId: 'ro_1', reason: 'r'.repeat(600) })],
    [
      'rollout with a bad selector',
      (c) => c.rollout.create({ patchId: 'pat_1', target: { kind: 'selector', selector: 'site in (a' } }),
    ],
    ['rollout with decreasing waves', (c) => c.rollout.create({ patchId: 'pat_1', waves: [10, 5, 100] })],
    ['rollout with waves not ending at 100', (c) => c.rollout.create({ patchId: 'pat_1', waves: [1, 50] })],
    [
      'rollout to an empty device list',
      (c) => c.rollout.create({ patchId: 'pat_1', target: { kind: 'devices', deviceIds: [] } }),
    ],
    [
      'rollout with a failure threshold above 1',
      (c) => c.rollout.create({ patchId: 'pat_1', failureThreshold: 1.5 }),
    ],
    ['devices list with a huge limit', (c) => c.devices.list({ limit: 1_000_000 })],
    ['device get with spaces in the id', (c) => c.devices.get({ deviceId: 'cam 1' })],
    ['patch list with limit 0', (c) => c.patch.list({ limit: 0 })],
    ['rollout list with a negative limit', (c) => c.rollout.list({ limit: -1 })],
    ['watch with a malformed rollout id', (c) => c.rollout.watch({ rolloutId: 'x' })],
    ['watch polling every millisecond', (c) => c.rollout.watch({ rolloutId: 'ro_1', intervalMs: 1 })],
  ];
  for (const [name, call] of bad) {
    it(`answers BAD_REQUEST and calls nothing: ${name}`, async () => {
      const { fleet, calls } = recordingFleet();
      expect(await codeOf(call(caller(admin, fleet)))).toBe('BAD_REQUEST');
      expect(calls).toEqual([]);
    });
  }

  const badDevice: Array<[string, (c: ReturnType<typeof caller>) => Promise<unknown>]> = [
    ['register without model', (c) => c.device.register({ firmwareVersion: '1' } as never)],
    [
      'register with 100 labels',
      (c) =>
        c.device.register({
          model: 'm',
          firmwareVersion: '1',
          labels: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'])),
        }),
    ],
    [
      'report failed without an error',
      (c) => c.device.report({ deliveryId: 'ro_1:cam-1', attempt: 1, status: 'failed' }),
    ],
    [
      'report an unknown status',
      (c) => c.device.report({ deliveryId: 'ro_1:cam-1', attempt: 1, status: 'exploded' } as never),
    ],
    [
      'report attempt 0',
      (c) => c.device.report({ deliveryId: 'ro_1:cam-1', attempt: 0, status: 'succeeded' }),
    ],
  ];
  for (const [name, call] of badDevice) {
    it(`answers BAD_REQUEST and calls nothing: ${name}`, async () => {
      const { fleet, calls } = recordingFleet();
      expect(await codeOf(call(caller(cam1, fleet)))).toBe('BAD_REQUEST');
      expect(calls).toEqual([]);
    });
  }
});

describe('domain errors', () => {
  it('travel as typed tRPC errors carrying the fleet code', async () => {
    const { fleet } = recordingFleet({
      report: async () => {
        throw new FleetError('STALE_ATTEMPT', 'attempt 1 is not the current attempt 2');
      },
      getRollout: async () => {
        throw new FleetError('NOT_FOUND', 'no rollout ro_x');
      },
    });
    const stale = caller(cam1, fleet).device.report({
      deliveryId: 'ro_1:cam-1',
      attempt: 1,
      status: 'installed',
    });
    await expect(stale).rejects.toMatchObject({ code: 'CONFLICT', cause: { code: 'STALE_ATTEMPT' } });
    expect(await codeOf(caller(admin, fleet).rollout.get({ rolloutId: 'ro_x' }))).toBe('NOT_FOUND');
  });
});

describe('schemas (property)', () => {
  it('accept only device ids that are safe inside Redis keys and log lines', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const parsed = DeviceId.safeParse(text);
        if (parsed.success) {
          expect(text).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
        }
      }),
    );
  });

  it('bound labels: at most 32, keys and values of bounded length', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 70 }), fc.string({ maxLength: 140 }), { maxKeys: 40 }),
        (labels) => {
          const parsed = Labels.safeParse(labels);
          if (parsed.success) {
            const entries = Object.entries(parsed.data);
            expect(entries.length).toBeLessThanOrEqual(32);
            for (const [k, v] of entries) {
              expect(k.length).toBeLessThanOrEqual(63);
              expect(v.length).toBeLessThanOrEqual(128);
            }
          }
        },
      ),
    );
  });
});
