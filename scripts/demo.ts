/**
 * `pnpm demo`: a private Redis, two server pods, 50 simulated cameras spread over both, a demo
 * patch rolled out to all of them, and live progress until every camera reports success. The pods
 * serve the dashboard (built first): the URL and a sign-in token are printed before the rollout.
 *
 *   pnpm demo --max-in-flight 5    paces the rollout (5 cameras at a time) so it can be watched
 *
 *   pnpm demo                      keeps running afterwards; Ctrl-C stops everything cleanly
 *   pnpm demo --exit-when-done     exits 0 when every camera succeeded, non-zero otherwise
 *   REDIS_URL=redis://… pnpm demo  uses that Redis (under a fresh key prefix) instead of a private one
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createAdminClient } from '@camfleet/client';
import {
  PodProcess,
  RedisServer,
  ROOT,
  spawnFleet,
  startSim,
  type Tokens,
  waitFor,
} from '@camfleet/test-support';

const { values: flags } = parseArgs({
  options: {
    'exit-when-done': { type: 'boolean', default: false },
    devices: { type: 'string', default: '50' },
    pods: { type: 'string', default: '2' },
    'apply-ms': { type: 'string', default: '400' },
    'max-in-flight': { type: 'string' },
    'dashboard-wait-ms': { type: 'string', default: '0' },
  },
});
const deviceCount = Number(flags.devices);
const podCount = Number(flags.pods);
const label = process.stderr.isTTY ? '\x1b[1mdemo\x1b[0m' : 'demo';
const say = (text: string) => process.stderr.write(`${label} ${text}\n`);

// The pods serve the dashboard from its build: make it first (about 2 s).
const build = spawn('pnpm', ['--silent', 'dashboard:build'], {
  cwd: ROOT,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const [buildCode] = (await once(build, 'exit')) as [number | null];
if (buildCode !== 0) say('dashboard build failed: the pods run without it');

const tokens: Tokens = { admin: randomBytes(12).toString('hex'), enroll: randomBytes(12).toString('hex') };
const redis = process.env.REDIS_URL ? null : await RedisServer.start({ appendOnly: true });
const redisUrl = process.env.REDIS_URL ?? redis?.url ?? '';
const keyPrefix = `demo${Date.now().toString(36)}`;
say(redis ? `private Redis on ${redisUrl} (AOF on)` : `Redis at ${redisUrl}, key prefix ${keyPrefix}`);

const pods = await Promise.all(
  Array.from({ length: podCount }, (_, i) =>
    PodProcess.start(
      redisUrl,
      `demo-pod-${i + 1}`,
      { FLEET_KEY_PREFIX: keyPrefix, FLEET_SWEEP_INTERVAL_MS: '250' },
      tokens,
    ),
  ),
);
const urls = pods.map((p) => p.url);
say(`${podCount} pods: ${urls.join(' ')}`);
say(`dashboard: ${urls[0]}/ — sign in with the admin token ${tokens.admin}`);

const sim = startSim(
  [
    '--url',
    urls.join(','),
    '--devices',
    String(deviceCount),
    '--prefix',
    'cam',
    '--apply-ms',
    flags['apply-ms'],
    '--quiet',
  ],
  { FLEET_ENROLL_TOKEN: tokens.enroll },
);
const admin = createAdminClient(urls[0] ?? '', tokens.admin);
await waitFor(async () => (await admin.client.fleet.stats.query()).online >= deviceCount, {
  timeoutMs: 60_000,
  what: `${deviceCount} cameras to connect`,
});
const stats = await admin.client.fleet.stats.query();
say(`${stats.online} cameras online: ${stats.nodes.map((n) => `${n.node} holds ${n.devices}`).join(', ')}`);

const patch = await admin.client.patch.publish.mutate({
  name: 'camfleet-demo',
  version: `1.0.${Date.now()}`,
  notes: 'demo patch',
});
const started = Date.now();
// Time to open the dashboard before the rollout starts (--dashboard-wait-ms).
await new Promise((resolve) => setTimeout(resolve, Number(flags['dashboard-wait-ms'])));
const maxInFlight = flags['max-in-flight'] ? Number(flags['max-in-flight']) : null;
const rollout = await admin.client.rollout.create.mutate({
  patchId: patch.id,
  target: { kind: 'all' },
  maxInFlight,
});
say(`patch ${patch.id} rolling out as ${rollout.id} to ${rollout.targeted} cameras`);

const watch = spawnFleet(
  urls[1] ?? urls[0] ?? '',
  ['rollout', 'watch', rollout.id],
  { FLEET_TOKEN: tokens.admin },
  'inherit',
);
const [watchCode] = (await once(watch, 'exit')) as [number | null];
const final = await admin.client.rollout.get.query({ rolloutId: rollout.id });
say(
  `${final.counts.succeeded}/${final.targeted} succeeded, ${final.counts.failed} failed, ` +
    `${Date.now() - started} ms from rollout start to settled`,
);
const success = watchCode === 0 && final.counts.succeeded === deviceCount;

async function shutdown(code: number): Promise<never> {
  admin.close();
  sim.child.kill('SIGTERM');
  await sim.done;
  await Promise.all(pods.map((pod) => pod.kill('SIGTERM')));
  await redis?.destroy();
  process.exit(code);
}

if (flags['exit-when-done']) await shutdown(success ? 0 : 1);
say(
  `still running: try FLEET_URL=${urls[0]} FLEET_TOKEN=${tokens.admin} pnpm fleet devices list; Ctrl-C stops`,
);
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));
