/**
 * What one idle camera connection keeps in a pod, from heap snapshots (issue #21 part 4).
 *
 *   node --import tsx apps/bench/src/heap-per-connection.ts [--devices 10000] [--out /tmp/heap]
 *   node --import tsx apps/bench/src/heap-per-connection.ts --analyze before.heapsnapshot after.heapsnapshot 10000
 *
 * Starts its own Redis and one pod (with `--heapsnapshot-signal`), provisions N devices, snapshots
 * the idle pod, connects N lean cameras (raw `ws`, pre-encoded frames: connectionParams,
 * `device.register`, the `device.offers` subscription, PONG), snapshots it again, and prints the
 * difference per connection: self size by what V8 calls each object (its constructor; closures by
 * function name and source line; strings, arrays and system objects by kind), plus the pod's RSS and
 * used heap per connection. The snapshot reader is in this file (the format is V8's documented
 * `.heapsnapshot` JSON, read as bytes: a 10,000-camera snapshot is past the longest string
 * `JSON.parse` takes).
 */
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createAdminClient } from '@camfleet/client';
import { PodProcess, RedisServer, TEST_TOKENS } from '@camfleet/test-support';
import WebSocket from 'ws';

// ---------------------------------------------------------------- snapshot reading

interface Snapshot {
  nodeFields: number;
  edgeFields: number;
  typeNames: string[];
  edgeTypeNames: string[];
  nodes: Float64Array;
  edges: Float64Array;
  /** Index into `edges` of each node's first edge (by node ordinal). */
  firstEdge: Uint32Array;
  /** Each node's first strong retainer (node index into `nodes`, or -1), by node ordinal. */
  retainer: Int32Array;
  retainerEdge: Int32Array;
  strings: string[];
  locations: Map<number, number>;
  typeOffset: number;
  nameOffset: number;
  sizeOffset: number;
  edgeCountOffset: number;
}

/** The numbers of a JSON array `"key":[…]` in `buf`. */
function numbersOf(buf: Buffer, key: string): Float64Array {
  const start = buf.indexOf(`"${key}":[`);
  if (start < 0) return new Float64Array(0);
  let out = new Float64Array(1 << 20);
  let n = 0;
  let value = 0;
  let inNumber = false;
  for (let i = start + key.length + 4; i < buf.length; i++) {
    const c = buf[i] ?? 0;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else {
      if (inNumber) {
        if (n === out.length) {
          const grown = new Float64Array(out.length * 2);
          grown.set(out);
          out = grown;
        }
        out[n++] = value;
      }
      value = 0;
      inNumber = false;
      if (c === 93) break; // ]
    }
  }
  return out.subarray(0, n);
}

/** The `strings` array: each JSON string token parsed alone. */
function stringsOf(buf: Buffer): string[] {
  const start = buf.lastIndexOf('"strings":[');
  const out: string[] = [];
  let i = start + 11;
  while (i < buf.length) {
    const c = buf[i];
    if (c === 93) break;
    if (c !== 34) {
      i++;
      continue;
    }
    let j = i + 1;
    while (buf[j] !== 34) j += buf[j] === 92 ? 2 : 1;
    out.push(JSON.parse(buf.toString('utf8', i, j + 1)) as string);
    i = j + 1;
  }
  return out;
}

export async function readSnapshot(path: string): Promise<Snapshot> {
  const buf = await readFile(path);
  const headerEnd = buf.indexOf('"nodes":');
  const header = JSON.parse(`${buf.toString('utf8', 0, buf.lastIndexOf(',', headerEnd))}}`) as {
    snapshot: {
      meta: {
        node_fields: string[];
        node_types: [string[], ...unknown[]];
        edge_fields: string[];
        edge_types: [string[], ...unknown[]];
        location_fields?: string[];
      };
    };
  };
  const meta = header.snapshot.meta;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const nodes = numbersOf(buf, 'nodes');
  const edges = numbersOf(buf, 'edges');
  const locationNumbers = numbersOf(buf, 'locations');
  const strings = stringsOf(buf);
  const locations = new Map<number, number>();
  const locFields = meta.location_fields?.length ?? 4;
  for (let i = 0; i < locationNumbers.length; i += locFields)
    locations.set(locationNumbers[i] ?? 0, locationNumbers[i + 2] ?? 0);
  const edgeCountOffset = meta.node_fields.indexOf('edge_count');
  const count = nodes.length / nodeFields;
  const firstEdge = new Uint32Array(count + 1);
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge = new Int32Array(count).fill(-1);
  const edgeTypeNames = meta.edge_types[0];
  const weak = edgeTypeNames.indexOf('weak');
  let e = 0;
  for (let n = 0; n < count; n++) {
    firstEdge[n] = e;
    const end = e + (nodes[n * nodeFields + edgeCountOffset] ?? 0) * edgeFields;
    for (; e < end; e += edgeFields) {
      const to = (edges[e + 2] ?? 0) / nodeFields;
      if (retainer[to] === -1 && edges[e] !== weak) {
        retainer[to] = n * nodeFields;
        retainerEdge[to] = e;
      }
    }
  }
  firstEdge[count] = e;
  return {
    nodeFields,
    edgeFields,
    typeNames: meta.node_types[0],
    edgeTypeNames,
    nodes,
    edges,
    firstEdge,
    retainer,
    retainerEdge,
    strings,
    locations,
    typeOffset: meta.node_fields.indexOf('type'),
    nameOffset: meta.node_fields.indexOf('name'),
    sizeOffset: meta.node_fields.indexOf('self_size'),
    edgeCountOffset,
  };
}

export function typeOf(s: Snapshot, index: number): string {
  return s.typeNames[s.nodes[index + s.typeOffset] ?? 0] ?? '?';
}

export function nameOf(s: Snapshot, index: number): string {
  return s.strings[s.nodes[index + s.nameOffset] ?? 0] ?? '';
}

/** A node's edges as [type, name, target node index]. */
export function* edgesOf(s: Snapshot, index: number): Generator<[string, string, number]> {
  const n = index / s.nodeFields;
  for (let e = s.firstEdge[n] ?? 0; e < (s.firstEdge[n + 1] ?? 0); e += s.edgeFields) {
    const type = s.edgeTypeNames[s.edges[e] ?? 0] ?? '?';
    const raw = s.edges[e + 1] ?? 0;
    const name = type === 'element' || type === 'hidden' ? String(raw) : (s.strings[raw] ?? '');
    yield [type, name, s.edges[e + 2] ?? 0];
  }
}

function edgeNamed(s: Snapshot, index: number, name: string): number {
  for (const [, edgeName, to] of edgesOf(s, index)) if (edgeName === name) return to;
  return -1;
}

/** Where a closure's code is: its script's file name (last two path parts) and line. */
function sourceOf(s: Snapshot, closure: number): string {
  const shared = edgeNamed(s, closure, 'shared');
  let script = shared >= 0 ? edgeNamed(s, shared, 'script_or_debug_info') : -1;
  if (script < 0 && shared >= 0) script = edgeNamed(s, shared, 'script');
  const file = script >= 0 ? nameOf(s, script).split('/').slice(-2).join('/') : '?';
  return `${file}:${(s.locations.get(closure) ?? 0) + 1}`;
}

/** "Class <- retainer.edge" for objects that say nothing by themselves. */
function retainedBy(s: Snapshot, index: number, depth = 1): string {
  const n = index / s.nodeFields;
  const r = s.retainer[n] ?? -1;
  if (r < 0) return '(root)';
  const e = s.retainerEdge[n] ?? 0;
  const type = s.edgeTypeNames[s.edges[e] ?? 0] ?? '?';
  const raw = s.edges[e + 1] ?? 0;
  const edge = type === 'element' || type === 'hidden' ? '[]' : (s.strings[raw] ?? '');
  const owner = classOf(s, r, depth - 1);
  return `${owner}.${edge}`;
}

/** What a node is counted as: its kind, and for objects and closures its constructor or function. */
function classOf(s: Snapshot, index: number, depth = 2): string {
  const type = typeOf(s, index);
  const name = nameOf(s, index);
  if (depth <= 0) {
    if (type === 'closure') return `closure ${name || sourceOf(s, index)}`;
    return type === 'object' || type === 'native' ? name : `(${type}) ${name.slice(0, 30)}`;
  }
  switch (type) {
    case 'object':
    case 'native':
      if (name === 'Object' || name === 'Promise' || name === 'Array')
        return `${name} <- ${retainedBy(s, index, depth - 1)}`;
      if (name === 'system / Context') {
        const vars = [...edgesOf(s, index)].filter(([t]) => t === 'context').map(([, n]) => n);
        return vars.length > 0
          ? `Context {${vars.slice(0, 8).join(',')}}`
          : `Context {} <- ${retainedBy(s, index, depth - 1)}`;
      }
      return name;
    case 'closure': {
      const source = sourceOf(s, index);
      return source.startsWith('?')
        ? `closure ${name || '(anonymous)'} (builtin) <- ${retainedBy(s, index, depth - 1)}`
        : `closure ${name || '(anonymous)'} ${source}`;
    }
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return `(string) <- ${retainedBy(s, index, depth - 1)}`;
    case 'number':
      return '(heap number)';
    case 'code':
      return '(code)';
    case 'array':
    case 'hidden':
    case 'object shape':
      return `(${type}) ${name.replace(/\d+/g, '#').slice(0, 40)} <- ${retainedBy(s, index, depth - 1)}`;
    default:
      return `(${type}) ${name.slice(0, 60)}`;
  }
}

function totals(s: Snapshot, coarse: boolean): Map<string, { count: number; bytes: number }> {
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += s.nodeFields) {
    const key = coarse ? classOf(s, i, 0) : classOf(s, i, 3);
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += s.nodes[i + s.sizeOffset] ?? 0;
    out.set(key, entry);
  }
  return out;
}

/** Prints what `after` holds beyond `before`, per connection, largest first. */
export async function analyze(beforePath: string, afterPath: string, connections: number): Promise<void> {
  const beforeSnapshot = await readSnapshot(beforePath);
  const afterSnapshot = await readSnapshot(afterPath);
  for (const coarse of [true, false]) {
    const before = totals(beforeSnapshot, coarse);
    const after = totals(afterSnapshot, coarse);
    const rows: { key: string; count: number; bytes: number }[] = [];
    for (const [key, a] of after) {
      const b = before.get(key) ?? { count: 0, bytes: 0 };
      rows.push({ key, count: (a.count - b.count) / connections, bytes: (a.bytes - b.bytes) / connections });
    }
    rows.sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((sum, r) => sum + r.bytes, 0);
    console.log(
      `\n${coarse ? 'by constructor' : 'by constructor and holder'}: heap self size per connection ${total.toFixed(0)} B over ${connections} connections`,
    );
    console.log('bytes/conn  objects/conn  what');
    for (const row of rows.filter((r) => Math.abs(r.bytes) >= 16).slice(0, coarse ? 60 : 150))
      console.log(`${row.bytes.toFixed(0).padStart(10)}  ${row.count.toFixed(2).padStart(12)}  ${row.key}`);
  }
}

// ---------------------------------------------------------------- the pod under test

async function usage(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

async function heapUsed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Sends SIGUSR2 and waits for the snapshot it writes into `dir`; moves it to `target`. */
async function snapshot(pod: PodProcess, dir: string, target: string): Promise<void> {
  const seen = new Set(await readdir(dir));
  pod.child.kill('SIGUSR2');
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const fresh = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !seen.has(f));
    if (!fresh) continue;
    // Written in one go; the size stops growing when it is done.
    let size = -1;
    for (;;) {
      const now = (await stat(join(dir, fresh))).size;
      if (now === size && now > 0) break;
      size = now;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    await rename(join(dir, fresh), target);
    return;
  }
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await run(item);
      }
    }),
  );
}

/** A lean camera: connect, authenticate, register, subscribe to offers; answers PING. */
function camera(url: string, deviceId: string, secret: string, sockets: WebSocket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/trpc?connectionParams=1`);
    sockets.push(ws);
    ws.on('error', reject);
    ws.on('open', () => {
      ws.send(JSON.stringify({ method: 'connectionParams', data: { deviceId, secret } }));
      ws.send(
        JSON.stringify({
          id: 1,
          method: 'mutation',
          params: {
            path: 'device.register',
            input: { json: { model: 'bench-cam', firmwareVersion: '1.0.0', labels: { bench: 'heap' } } },
          },
        }),
      );
    });
    ws.on('message', (data) => {
      const text = String(data);
      if (text === 'PING') return ws.send('PONG');
      const frame = JSON.parse(text) as { id: number | null; error?: unknown; result?: { type: string } };
      if (frame.error) return reject(new Error(`${deviceId}: ${text}`));
      if (frame.id === 1)
        ws.send(
          JSON.stringify({ id: 2, method: 'subscription', params: { path: 'device.offers', input: {} } }),
        );
      else if (frame.id === 2 && frame.result?.type === 'started') resolve();
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--analyze') {
    await analyze(args[1] ?? '', args[2] ?? '', Number(args[3] ?? 1));
    return;
  }
  const option = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
  };
  const devices = Number(option('--devices', '10000'));
  const out = option('--out', '/tmp/heap-per-connection');
  const diag = join(out, 'diag');
  await mkdir(diag, { recursive: true });
  const redis = await RedisServer.start({ appendOnly: false });
  const pod = await PodProcess.start(
    redis.url,
    'heap-pod',
    { LOG_LEVEL: 'info', FLEET_SWEEP_INTERVAL_MS: '1000', FLEET_LEASE_MS: '15000' },
    TEST_TOKENS,
    ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diag}`],
  );
  const pid = pod.child.pid ?? 0;
  const admin = createAdminClient(pod.url, TEST_TOKENS.admin);
  const sockets: WebSocket[] = [];
  try {
    const ids = Array.from({ length: devices }, (_, i) => `heap-${String(i).padStart(6, '0')}`);
    const secrets = new Map<string, string>();
    await inBatches(ids, 32, async (deviceId) => {
      const credential = await admin.client.devices.credentials.provision.mutate({
        deviceId,
        model: 'bench-cam',
      });
      secrets.set(deviceId, credential.secret);
    });
    console.log(`provisioned ${devices}`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const before = { rss: await usage(pid), heap: await heapUsed(pod.url) };
    await snapshot(pod, diag, join(out, 'before.heapsnapshot'));
    const started = Date.now();
    await inBatches(ids, 200, (deviceId) => camera(pod.url, deviceId, secrets.get(deviceId) ?? '', sockets));
    console.log(`connected ${devices} in ${Date.now() - started} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = { rss: await usage(pid), heap: await heapUsed(pod.url) };
    console.log(
      JSON.stringify({
        devices,
        idleRssBytes: before.rss,
        rssBytesPerConnection: Math.round((after.rss - before.rss) / devices),
        heapBytesPerConnection: Math.round((after.heap - before.heap) / devices),
      }),
    );
    await snapshot(pod, diag, join(out, 'after.heapsnapshot'));
    console.log(`snapshots in ${out}`);
  } finally {
    for (const ws of sockets) ws.terminate();
    admin.close();
    pod.child.kill('SIGKILL');
    await redis.stop();
  }
  await analyze(join(out, 'before.heapsnapshot'), join(out, 'after.heapsnapshot'), devices);
}

await main();
