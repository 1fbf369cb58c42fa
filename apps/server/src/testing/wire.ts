import {
  createAdminClient,
  createDeviceClient,
  type DeviceCredentials,
  enrollDevice,
  fleetCodeOf,
  trpcCodeOf,
} from '@camfleet/client';
import type { Offer } from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import {
  connectTestRedis,
  digestEverywhere,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@camfleet/test-support';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { KeySpace } from '../redis/keys.js';
import type { RunningServer } from '../server.js';
import { ADMIN_TOKEN, ENROLL_TOKEN, startTestPod } from './in-process.js';

/** What `rollout.create` takes. */
type RolloutInput = Parameters<
  ReturnType<typeof createAdminClient>['client']['rollout']['create']['mutate']
>[0];
/** What `rollout.create` takes besides the patch. */
type RolloutSettings = Omit<RolloutInput, 'patchId'>;

/**
 * A pod on a private Redis, reached over real HTTP and WebSockets: what the wire-level tests drive.
 */
export class PodUnderTest {
  private readonly devices: Array<ReturnType<typeof createDeviceClient>> = [];

  private constructor(
    readonly redisServer: TestRedis,
    readonly redis: RedisClient,
    readonly pod: RunningServer,
    readonly admin: ReturnType<typeof createAdminClient>,
    /** The pod's key layout, to move the time a test waits for (deadlines, backoffs) in Redis. */
    readonly keys: KeySpace,
  ) {}

  /** `log`: the pod's logger (default: silent), to capture what it logs. */
  static async start(env: Record<string, string> = {}, log?: Logger): Promise<PodUnderTest> {
    const redisServer = await startTestRedis({ enableDebug: true });
    const pod = await startTestPod(redisServer.url, env, log);
    return new PodUnderTest(
      redisServer,
      connectTestRedis(redisServer.url),
      pod,
      createAdminClient(pod.url, ADMIN_TOKEN),
      new KeySpace(env.FLEET_KEY_PREFIX ?? 'cf'),
    );
  }

  get url(): string {
    return this.pod.url;
  }

  /** Enrolls a device with the configured enrollment token: its own credential. */
  async enroll(deviceId: string): Promise<DeviceCredentials> {
    return { secret: await enrollDevice(this.pod.url, deviceId, ENROLL_TOKEN) };
  }

  /**
   * A device with a live offer subscription, collecting what it is offered and asked to cancel.
   * Without credentials it enrolls first. `reconnects()` counts the reconnects the client
   * scheduled (its retry delay is asked for synchronously in the socket's close handler, right
   * after `onClose`), `closes()` the sockets it saw close: once `closes()` grew, the reconnects
   * that close caused are counted.
   */
  async connectDevice(deviceId: string, credentials?: DeviceCredentials) {
    const creds = credentials ?? (await this.enroll(deviceId));
    let opens = 0;
    let closes = 0;
    let reconnects = 0;
    let rejected: string | null = null;
    const device = createDeviceClient({
      baseUrl: this.pod.url,
      deviceId,
      credentials: creds,
      retryDelayMs: () => {
        reconnects++;
        return 50;
      },
      onOpen: () => {
        opens++;
      },
      onClose: () => {
        closes++;
      },
      onRejected: (message) => {
        rejected = message;
        device.wsClient.close();
      },
    });
    this.devices.push(device);
    const offers: Offer[] = [];
    const cancels: Array<{ deliveryId: string; attempt: number }> = [];
    const subscription = device.client.device.offers.subscribe(
      {},
      {
        onData: (event) => {
          if (event.data.type === 'offer') offers.push(event.data.offer);
          else cancels.push(event.data);
        },
        onError: () => undefined,
      },
    );
    return {
      ...device,
      offers,
      cancels,
      subscription,
      credentials: creds,
      opens: () => opens,
      closes: () => closes,
      reconnects: () => reconnects,
      rejected: () => rejected,
    };
  }

  /** A camera that registered (with these labels) and follows its offers. */
  async registeredDevice(
    deviceId: string,
    labels: Record<string, string> = {},
    credentials?: DeviceCredentials,
    firmwareVersion = '1.0.0',
  ) {
    const device = await this.connectDevice(deviceId, credentials);
    await device.client.device.register.mutate({ model: 'cam', firmwareVersion, labels });
    return device;
  }

  /** Redis's clock in ms: the one every pod's deadlines and schedules use. */
  async redisNow(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** A patch without a file, of a fresh version: its id. */
  async publishPatch(): Promise<string> {
    const patch = await this.admin.client.patch.publish.mutate({
      name: 'fw',
      version: `v${Math.random().toString(36).slice(2)}`,
    });
    return patch.id;
  }

  /** Publishes a patch and rolls it out: the status once the rollout reached every bucket. */
  async publishAndRollOut(settings: RolloutSettings = {}) {
    return this.rollOut({ patchId: await this.publishPatch(), ...settings });
  }

  /** Creates a rollout: its status once it reached every bucket (the pods attach it in the background). */
  async rollOut(input: RolloutInput) {
    const created = await this.admin.client.rollout.create.mutate(input);
    return waitFor(
      async () => {
        const status = await this.admin.client.rollout.get.query({ rolloutId: created.id });
        return status.attach === null ? status : null;
      },
      { what: `rollout ${created.id} attached`, timeoutMs: 30_000 },
    );
  }

  /**
   * The ack deadline of the device's attempt in flight passes: only the time moves (the deadline is
   * set in the past, and the device is due at once), the pod's own sweeper acts on it. The deadline
   * goes first: any reschedule after it (the sweeper's own) keeps the device due.
   */
  async passDeadline(rolloutId: string, deviceId: string): Promise<void> {
    const bucket = this.keys.bucketOfDevice(deviceId);
    await this.redis.hset(this.keys.delivery(rolloutId, deviceId), 'deadline', 1);
    await this.redis.zadd(bucket.due, 1, deviceId);
  }

  /**
   * A digest of every key but the pods' own bookkeeping (presence leases and devices held, the gate-evaluation
   * schedule) and the audit log (a refused admin call is recorded there, by design): equal before
   * and after means a request changed nothing.
   */
  async digest(): Promise<string> {
    // Left out: what a pod's own loops write on their time (presence, the gates' schedule, the audit,
    // a rollout's counts over time as the controller samples them).
    return digestEverywhere(
      this.redis,
      (key) => !/:\{g\}:(nodes|node-devices|eval|audit|series:[^:]+)$/.test(key),
    );
  }

  async close(): Promise<void> {
    for (const d of this.devices) d.wsClient.close();
    this.admin.close();
    await this.pod.close();
    await this.redis.quit();
    await this.redisServer.destroy();
  }
}

/** The tRPC and fleet error codes of a call that must fail. */
export async function failure(
  promise: Promise<unknown>,
): Promise<{ trpc: string | null; fleet: string | null }> {
  try {
    await promise;
  } catch (error) {
    return { trpc: trpcCodeOf(error), fleet: fleetCodeOf(error) };
  }
  throw new Error('expected the call to fail');
}

export { ADMIN_TOKEN, ENROLL_TOKEN };

/**
 * One pod for a whole test file, started before its tests and closed after them. With
 * `cleanRollouts`, each test's rollouts are canceled after it: rollouts queue per device in creation
 * order, so the next test starts clean.
 */
export function podPerSuite({ cleanRollouts = false } = {}): { readonly pod: PodUnderTest } {
  const suite: { pod: PodUnderTest | null } = { pod: null };
  const pod = (): PodUnderTest => {
    if (!suite.pod) throw new Error('the suite pod is not started yet');
    return suite.pod;
  };
  beforeAll(async () => {
    suite.pod = await PodUnderTest.start();
  });
  if (cleanRollouts) {
    afterEach(async () => {
      const { admin } = pod();
      for (const rollout of await admin.client.rollout.list.query({ limit: 500 })) {
        if (rollout.status !== 'canceled')
          await admin.client.rollout.cancel.mutate({ rolloutId: rollout.id });
      }
    });
  }
  afterAll(async () => {
    await suite.pod?.close();
  });
  return {
    get pod() {
      return pod();
    },
  };
}
