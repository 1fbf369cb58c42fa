import { flag, globalScript, list, num, str } from '../script.js';

/** node_heartbeat.lua: renews a pod instance's presence lease and says how many devices it holds. */
export const nodeHeartbeat = globalScript({
  name: 'node_heartbeat',
  numberOfKeys: 2,
  keys: (_: { instance: string; leaseMs: number; devices: number }, k) => [k.nodes, k.nodeDevices],
  argv: (i) => [i.instance, i.leaseMs, i.devices],
  decode: (reply) => {
    const [lost, at] = list(reply);
    /** `lost`: the lease had been taken away (declared dead while alive); `at`: Redis time of the beat. */
    return { lost: flag(lost), at: num(at) };
  },
});

/** node_reap.lua: claims pod instances whose lease expired, judged by the caller's last seen beat. */
export const nodeReap = globalScript({
  name: 'node_reap',
  numberOfKeys: 2,
  keys: (_: { limit: number; instance: string; lastBeatAt: number }, k) => [k.nodes, k.nodeDevices],
  argv: (i) => [i.limit, i.instance, i.lastBeatAt],
  decode: (reply) => list(reply).map(str),
});
