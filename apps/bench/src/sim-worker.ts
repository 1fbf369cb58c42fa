/**
 * A camera process of the benchmark: the main group's cameras (the lean generator, `lean-camera.ts`,
 * or the device simulator's Fleet), and the throttled group (always the simulator: it has a real
 * apply time), driven over IPC, recording when each camera subscribed and got offers. Times are
 * epoch ms (one clock: one machine). The simulator's modules (tRPC client, zod, superjson) are
 * loaded only when a group of this process uses it.
 */
import type { DeviceEvent, Fleet } from '@camfleet/device-sim';
import { waitFor } from '@camfleet/test-support';
import { type LeanEvent, LeanFleet } from './lean-camera.js';
import {
  type Command,
  GROUP_LABEL,
  type Group,
  type Reply,
  type Request,
  type SimConfig,
} from './protocol.js';

const config = JSON.parse(process.env.BENCH_SIM ?? '') as SimConfig;
const needsSim = config.cameras === 'sim' || config.throttledDevices > 0;
const sim = needsSim ? await import('@camfleet/device-sim') : null;

/** Secrets of every camera of this process (both kinds: the lean ones keep theirs here too). */
const secrets = new Map<string, string>();
const credentials = {
  secretOf: (deviceId: string) => secrets.get(deviceId),
  save: async (deviceId: string, secret: string) => {
    secrets.set(deviceId, secret);
  },
};

/** Apply time 0 and no restart: the figures are the backend's, not a camera's flash speed. */
const INSTANT = { downloadMs: 0, applyMs: 0, reboot: false } as const;

/** Device → the pod it is subscribed on, while it is. */
const subscribed = new Map<string, string>();
/** Every lost connection since the start, by reason (churn: a healthy run has none outside the kill). */
const lostByReason: Record<string, number> = {};
/** Rollout → device → first offer. */
const offers = new Map<string, Map<string, number>>();
/** Device → first subscription, while a connect storm is being timed. */
let firstReady: Map<string, number> | null = null;
/** The devices of a pod about to die, and when each subscribed again elsewhere. */
let watch: {
  url: string;
  devices: Set<string>;
  resubscribedAt: Map<string, number>;
  /** Why watched devices' connections were lost since (the kill itself, failed attempts after it). */
  lost: Record<string, number>;
} | null = null;

function record(event: DeviceEvent | LeanEvent): void {
  const now = Date.now();
  if (event.type === 'subscribed') {
    subscribed.set(event.deviceId, event.url);
    if (firstReady && !firstReady.has(event.deviceId)) firstReady.set(event.deviceId, now);
    const watched = watch?.devices.has(event.deviceId) && event.url !== watch.url;
    if (watch && watched && !watch.resubscribedAt.has(event.deviceId))
      watch.resubscribedAt.set(event.deviceId, now);
  } else if (event.type === 'disconnected') {
    subscribed.delete(event.deviceId);
    lostByReason[event.reason] = (lostByReason[event.reason] ?? 0) + 1;
    if (watch?.devices.has(event.deviceId)) watch.lost[event.reason] = (watch.lost[event.reason] ?? 0) + 1;
  } else if (event.type === 'offer') {
    const rolloutId = event.deliveryId.slice(0, -event.deviceId.length - 1);
    const byDevice = offers.get(rolloutId) ?? new Map<string, number>();
    offers.set(rolloutId, byDevice);
    if (!byDevice.has(event.deviceId)) byDevice.set(event.deviceId, now);
  }
}

/** What the worker needs of a group of cameras, lean or simulated. */
interface Cameras {
  readonly devices: readonly { readonly id: string; start(): void }[];
  stop(): Promise<void>;
}

const fleetOptions = (group: Group) => ({
  urls: config.urls,
  devices: group === 'main' ? config.devices : config.throttledDevices,
  credentials,
  enrollToken: config.enrollToken,
  prefix: `${group === 'main' ? 's' : 't'}${config.index}`,
  labels: { [GROUP_LABEL]: group },
  // A storm of thousands: give a busy accept queue time rather than abandoning sockets.
  connectTimeoutMs: 30_000,
  backoff: { baseMs: 250, maxMs: 5_000 },
  onEvent: record,
});

/** The device simulator's cameras of a group. */
function simFleetOf(group: Group): Fleet {
  if (!sim) throw new Error('the device simulator is not loaded in this process');
  return new sim.Fleet({
    ...fleetOptions(group),
    faults: group === 'main' ? INSTANT : { ...INSTANT, applyMs: config.throttledApplyMs },
    localAddresses: config.localAddresses,
    staggerMs: 0,
    ...(config.signatures ? { signatures: config.signatures } : {}),
  });
}

/**
 * A full collection (node --expose-gc, as the benchmark starts this process) after a setup or a
 * storm, so what it left behind is not collected inside a later measured window.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Thousands of devices per process: minutes, not the seconds a test waits. */
const SLOW = { timeoutMs: 900_000, intervalMs: 10, what: 'every device to subscribe' };

/** The lean main group: kept across disconnects (a camera keeps its version and last event id). */
const lean =
  config.cameras === 'lean'
    ? new LeanFleet({ ...fleetOptions('main'), localAddresses: config.localAddresses })
    : null;
let simMain: Fleet | null = lean ? null : simFleetOf('main');
let main: Cameras = lean ?? (simMain as Fleet);
const throttled: Cameras =
  config.throttledDevices > 0 ? simFleetOf('throttled') : { devices: [], stop: async () => undefined };

/** Devices enrolling at once per simulator: a steady stream the pods can absorb, not a storm. */
const ENROLLING_AT_ONCE = 256;

/**
 * Enrolls and connects every device (setup, not a scenario): at most ENROLLING_AT_ONCE in progress,
 * so none sits out its connect timeout in an accept queue and starts over.
 */
async function provision(): Promise<Reply> {
  const started = Date.now();
  const devices = [...main.devices, ...throttled.devices];
  let next = 0;
  await waitFor(() => {
    // Every device of this process is being provisioned: the subscribed ones are done.
    const done = subscribed.size;
    while (next < devices.length && next - done < ENROLLING_AT_ONCE) devices[next++]?.start();
    return done === devices.length;
  }, SLOW);
  collectGarbage();
  return { type: 'provision', enrolled: devices.length, ms: Date.now() - started };
}

/** Every main device starts now, at once: a connect storm with the secrets they enrolled with. */
async function connect(): Promise<Reply> {
  // The simulator's cameras are made anew (as `pnpm sim` would start them); the lean ones restart.
  if (!lean) {
    simMain = simFleetOf('main');
    main = simMain;
  }
  const ready = new Map<string, number>();
  firstReady = ready;
  // Only the main group is timed (a throttled device's blip during the storm must not count).
  const timed = main.devices;
  const startedAt = new Map<string, number>();
  const first = Date.now();
  for (const device of main.devices) {
    startedAt.set(device.id, Date.now());
    device.start();
  }
  await waitFor(() => timed.every((device) => ready.has(device.id)), SLOW);
  firstReady = null;
  collectGarbage();
  const readyAt = timed.map((d) => ready.get(d.id) ?? 0);
  return {
    type: 'connect',
    readyMs: timed.map((d, i) => (readyAt[i] ?? 0) - (startedAt.get(d.id) ?? 0)),
    startedAt: first,
    allReadyAt: Math.max(...readyAt),
  };
}

async function handle(command: Command): Promise<Reply> {
  switch (command.type) {
    case 'provision':
      return provision();
    case 'disconnect':
      await main.stop();
      for (const device of main.devices) subscribed.delete(device.id);
      return { type: 'disconnect' };
    case 'connect':
      return connect();
    case 'offers':
      return { type: 'offers', offeredAt: [...(offers.get(command.rolloutId)?.values() ?? [])] };
    case 'watch': {
      const devices = new Set(
        main.devices.filter((d) => subscribed.get(d.id) === command.url).map((d) => d.id),
      );
      watch = { url: command.url, devices, resubscribedAt: new Map(), lost: {} };
      return { type: 'watch', deviceIds: [...devices] };
    }
    case 'resubscribed':
      return {
        type: 'resubscribed',
        watched: watch?.devices.size ?? 0,
        resubscribedAt: [...(watch?.resubscribedAt.values() ?? [])],
        lost: watch?.lost ?? {},
      };
    case 'usage': {
      const { rss, heapUsed } = process.memoryUsage();
      const { user, system } = process.cpuUsage();
      return {
        type: 'usage',
        cpuMs: (user + system) / 1000,
        rssBytes: rss,
        heapUsedBytes: heapUsed,
        subscribed: subscribed.size,
        lost: lostByReason,
        lean: lean?.counters ?? null,
      };
    }
    case 'downloads': {
      if (!simMain) throw new Error('downloads: the lean cameras download nothing');
      const { downloadBytes, installsDone, checksumFailures, signatureRefusals } = simMain.summary();
      return { type: 'downloads', downloadBytes, installsDone, checksumFailures, signatureRefusals };
    }
    case 'churn': {
      if (!lean) throw new Error('churn: only lean cameras blip on request');
      let dropped = 0;
      for (let i = 0; i < command.cameras; i++) {
        const camera = lean.devices[Math.floor(Math.random() * lean.devices.length)];
        if (camera?.drop()) dropped++;
      }
      return { type: 'churn', dropped };
    }
    case 'stop':
      await Promise.all([main.stop(), throttled.stop()]);
      return { type: 'stop' };
  }
}

process.on('message', (request: Request) => {
  handle(request.command).then(
    (reply) => process.send?.({ id: request.id, reply }),
    (error: unknown) =>
      process.send?.({
        id: request.id,
        reply: { type: 'error', message: error instanceof Error ? error.message : String(error) },
      }),
  );
});
// The benchmark going away takes its simulators with it.
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, reply: { type: 'ready' } });
