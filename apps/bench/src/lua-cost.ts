/**
 * The `lua` scenario: what Redis spends per delivery when nothing else competes for the CPU. The
 * pods' Lua transitions are driven directly (a ScriptDriver runs the scripts the pods run, with no
 * pods, sockets or cameras), phase by phase, as a fan-out makes them: attach (rollout.create; it
 * offers the idle connected devices itself, which is every device here), claim (offer_claim_many
 * per bucket, for the devices the attach left queued: none in this fleet) and report (`succeeded`). Redis's own accounting (INFO) gives
 * the CPU and the commands, scripts' commands counted one by one; its memory gives what one
 * delivery keeps.
 */

import { ScriptDriver } from '@camfleet/server/testing/script-driver';
import { parseInfo, RedisServer } from '@camfleet/test-support';

export interface PhaseCost {
  redisCpuUsPerDelivery: number;
  redisCommandsPerDelivery: number;
}

export interface LuaCostResult {
  devices: number;
  attach: PhaseCost;
  claim: PhaseCost;
  report: PhaseCost;
  total: PhaseCost;
  /** Redis memory after the rollout, minus before it, per device (records, sets, streams). */
  redisBytesPerDelivery: number;
}

/** Registrations in flight at once while the fleet is set up. */
const REGISTER_CONCURRENCY = 500;

interface Reading {
  cpuUs: number;
  commands: number;
  memory: number;
}

async function read(driver: ScriptDriver): Promise<Reading> {
  const info = parseInfo(await driver.redis.info('all'));
  let commands = 0;
  for (const [name, value] of info) {
    // INFO itself is the measurement's, not a delivery's.
    if (name.startsWith('cmdstat_') && name !== 'cmdstat_info')
      commands += Number(/calls=(\d+)/.exec(value)?.[1]);
  }
  return {
    cpuUs: (Number(info.get('used_cpu_user')) + Number(info.get('used_cpu_sys'))) * 1e6,
    commands,
    memory: Number(info.get('used_memory')),
  };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

function costOf(before: Reading, after: Reading, devices: number): PhaseCost {
  return {
    redisCpuUsPerDelivery: round((after.cpuUs - before.cpuUs) / devices, 1),
    redisCommandsPerDelivery: round((after.commands - before.commands) / devices, 2),
  };
}

export async function luaCost(devices: number): Promise<LuaCostResult> {
  const redis = await RedisServer.start({ appendOnly: true });
  const driver = new ScriptDriver(redis.url, 'cf');
  try {
    const ids = Array.from({ length: devices }, (_, i) => `lua-${i}`);
    for (let i = 0; i < devices; i += REGISTER_CONCURRENCY)
      await Promise.all(ids.slice(i, i + REGISTER_CONCURRENCY).map((id) => driver.register(id)));
    const patch = await driver.publish();
    const start = await read(driver);
    const rollout = await driver.rollout(patch.id);
    const attached = await read(driver);
    const relayed = new Set(
      driver.relayed.flatMap((group) => group.devices.map((device) => device.deviceId)),
    );
    const queued = ids.filter((id) => !relayed.has(id));
    const offered = relayed.size + (queued.length > 0 ? await driver.claimMany(queued) : 0);
    const claimed = await read(driver);
    for (let i = 0; i < devices; i += REGISTER_CONCURRENCY)
      await Promise.all(
        ids
          .slice(i, i + REGISTER_CONCURRENCY)
          .map((id) => driver.report(id, rollout.id, 1, 'succeeded', '', patch.version)),
      );
    const reported = await read(driver);
    const { counts } = await driver.fleet.rollouts.get(rollout.id);
    if (offered !== devices || counts.succeeded !== devices)
      throw new Error(`lua: ${offered} offered, ${counts.succeeded} succeeded of ${devices}`);
    return {
      devices,
      attach: costOf(start, attached, devices),
      claim: costOf(attached, claimed, devices),
      report: costOf(claimed, reported, devices),
      total: costOf(start, reported, devices),
      redisBytesPerDelivery: Math.round((reported.memory - start.memory) / devices),
    };
  } finally {
    await driver.close();
    await redis.destroy();
  }
}
