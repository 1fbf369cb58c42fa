import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetError } from './errors.js';
import { appRouter } from './router.js';
import { DeviceId, Labels } from './schemas.js';
import type { FleetContext, FleetServices, Principal } from './services.js';
import { createCallerFactory } from './trpc.js';

const createCaller = createCallerFactory(appRouter);

type Overrides = { [K in keyof FleetServices]?: Partial<FleetServices[K]> };

const none = () => (async function* () {})();

/** Services that record what reached them (`service.method`) and answer from small canned values. */
function recordingFleet(overrides: Overrides = {}) {
  const calls: string[] = [];
  const audit: Array<Parameters<FleetServices['audit']['record']>[0]> = [];
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
  const credential = { deviceId: 'cam-1', secret: 's' };
  const canned: FleetServices = {
    devices: {
      register: async () => device,
      offers: none,
      report: async () => ({
        deliveryId: 'ro_1:cam-1',
        attempt: 1,
        state: 'succeeded' as const,
        duplicate: false,
      }),
      artifactUrl: async () => ({ url: '/artifacts/x', expiresAt: null }),
    },
    patches: {
      publish: async () => patch,
      list: async () => [patch],
      get: async () => ({ ...patch, storage: null, deltas: [], rollouts: [] }),
      delete: async () => ({ patchId: 'pat_1', deleted: true as const }),
      createDelta: async () => null as never,
    },
    rollouts: {
      create: async () => null as never,
      list: async () => [],
      get: async () => null as never,
      history: async () => null as never,
      watch: none,
      watchList: none,
      pause: async () => null as never,
      resume: async () => null as never,
      advance: async () => null as never,
      cancel: async () => null as never,
    },
    inventory: {
      list: async () => ({ devices: [device], nextCursor: null }),
      get: async () => ({ device, deliveries: [], history: [] }),
      stats: async () => ({ devices: 1, online: 1, patches: 1, rollouts: 0, nodes: [] }),
      overview: async () => null as never,
      preview: async () => null as never,
      watchStats: none,
      checkIds: async () => ({ checked: 1, badCount: 0, bad: [] }),
    },
    events: { list: async () => [], follow: none },
    credentials: {
      enroll: async () => credential,
      provision: async () => credential,
      provisionMany: async () => ({ created: [credential], existing: [] }),
      rotate: async () => credential,
      revoke: async () => ({ deviceId: 'cam-1', revoked: true as const }),
    },
    tokens: { create: async () => null as never, list: async () => [], revoke: async () => null as never },
    enrollTokens: {
      create: async () => null as never,
      list: async () => [],
      revoke: async () => null as never,
    },
    audit: {
      record: async (entry) => {
        audit.push(entry);
      },
      list: async () => [],
    },
    webhooks: {
      create: async () => null as never,
      list: async () => [],
      get: async () => null as never,
      delete: async () => null as never,
      enable: async () => null as never,
      deliveries: async () => [],
      test: async () => null as never,
    },
  };
  // Every method but audit.record counts as a call that reached the fleet.
  const fleet = Object.fromEntries(
    Object.entries(canned).map(([name, service]) => [
      name,
      Object.fromEntries(
        Object.entries({ ...service, ...overrides[name as keyof FleetServices] }).map(([method, fn]) => [
          method,
          (...args: unknown[]) => {
            if (`${name}.${method}` !== 'audit.record') calls.push(`${name}.${method}`);
            return (fn as (...a: unknown[]) => unknown)(...args);
          },
        ]),
      ),
    ]),
  ) as unknown as FleetServices;
  return { fleet, calls, audit };
}

const admin: Principal = { kind: 'admin', name: 'ops', role: 'admin' };
const viewer: Principal = { kind: 'admin', name: 'watcher', role: 'viewer' };
const cam1: Principal = { kind: 'device', deviceId: 'cam-1' };
const anonymous: Principal = { kind: 'anonymous' };

function caller(principal: Principal, fleet: FleetServices) {
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
    expect(calls).toEqual(['patches.list']);
  });

  it('lets a viewer check the stored device ids (devices.checkIds), and no device or anonymous caller', async () => {
    const { fleet, calls } = recordingFleet();
    expect(await caller(viewer, fleet).devices.checkIds()).toEqual({ checked: 1, badCount: 0, bad: [] });
    expect(await codeOf(caller(cam1, fleet).devices.checkIds())).toBe('UNAUTHORIZED');
    expect(await codeOf(caller(anonymous, fleet).devices.checkIds({ limit: 5 }))).toBe('UNAUTHORIZED');
    expect(await codeOf(caller(viewer, fleet).devices.checkIds({ limit: 0 }))).toBe('BAD_REQUEST');
    expect(calls).toEqual(['inventory.checkIds']);
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
      devices: {
        register: async (deviceId) => {
          seen = deviceId;
          return recordingFleet().fleet.devices.register(deviceId, null, {
            model: 'm',
            firmwareVersion: '1',
            labels: {},
          });
        },
      },
    });
    await caller(cam1, fleet).device.register({ model: 'm', firmwareVersion: '1', labels: {} });
    expect(seen).toBe('cam-1');
  });

  it('names the actor on changes', async () => {
    let actor = '';
    const { fleet } = recordingFleet({
      patches: {
        publish: async (input, who) => {
          actor = who;
          return { ...input, id: 'pat_1', artifact: null, signature: null, createdAt: 1, createdBy: who };
        },
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
      credentials: {
        enroll: async (deviceId, tokenId) => {
          seen.push([deviceId, tokenId]);
          return { deviceId, secret: 's' };
        },
      },
    });
    const enrollee: Principal = { kind: 'enrollee', deviceId: 'cam-9', enrollTokenId: 'abc' };
    await caller(enrollee, fleet).device.enroll();
    expect(seen).toEqual([['cam-9', 'abc']]);
    expect(await codeOf(caller(enrollee, fleet).device.register({ model: 'm', firmwareVersion: '1' }))).toBe(
      'UNAUTHORIZED',
    );
    expect(await codeOf(caller(cam1, fleet).device.enroll())).toBe('FORBIDDEN');
    expect(calls).toEqual(['credentials.enroll']);
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
      devices: {
        report: async () => {
          throw new FleetError('STALE_ATTEMPT', 'attempt 1 is not the current attempt 2');
        },
      },
      rollouts: {
        get: async () => {
          throw new FleetError('NOT_FOUND', 'no rollout ro_x');
        },
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
          expect(text).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
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
