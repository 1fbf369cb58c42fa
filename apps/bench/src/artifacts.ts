import { createHash, randomBytes } from 'node:crypto';
import { generateSigningKeys, signManifest } from '@camfleet/client';
import { startTestS3, TEST_TOKENS, type TestS3 } from '@camfleet/test-support';
import { Cluster } from './cluster.js';
import { GROUP_LABEL } from './protocol.js';
import { succeeded } from './scenarios.js';
import { round } from './stats.js';

/**
 * Firmware-sized artifacts (issue #20): what a delivery's bytes cost the pods. An s3rver, then twice
 * a fleet of its own (Redis, pods with the S3 store, simulated cameras that require the publisher's
 * signature): once with presigned downloads (the cameras read the object store), once with the pods
 * serving the bytes. A signed artifact is rolled out to every camera; each pod's
 * `camfleet_artifact_bytes_served_total` is read before and after.
 */

export interface ArtifactRun {
  /** Offers carried presigned URLs of the object store (FLEET_ARTIFACT_PRESIGN=1), or the pods' own. */
  presigned: boolean;
  /** Deliveries that succeeded (every camera of the run). */
  deliveries: number;
  /** Artifact bytes all pods sent (their counters' growth over the rollout), and per delivery. */
  bytesThroughPods: number;
  bytesThroughPodsPerDelivery: number;
  /** Artifact bytes the cameras received, per delivery (≥ the size: every camera downloaded it). */
  bytesDownloadedPerDelivery: number;
  /** From `rollout.create` until every delivery succeeded. */
  allSucceededMs: number;
  /** The pods' CPU over the rollout, per 1000 deliveries. */
  podCpuMsPer1000: number;
}

export interface ArtifactsResult {
  artifactBytes: number;
  devices: number;
  pods: number;
  presigned: ArtifactRun;
  podServed: ArtifactRun;
}

export interface ArtifactsOptions {
  devices: number;
  pods: number;
  artifactBytes: number;
  logLevel: string;
}

/** Artifact bytes this pod has sent to devices, from its metrics (all series of the counter). */
async function bytesServed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const [, value] of text.matchAll(/^camfleet_artifact_bytes_served_total(?:\{[^}]*\})? (\S+)$/gm))
    total += Number(value);
  return total;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

interface Artifact {
  bytes: Buffer;
  sha256: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

/** One fleet (presigning on or off) on the shared store: provision, publish, roll out, measure. */
async function run(s3: TestS3, artifact: Artifact, options: ArtifactsOptions, presigned: boolean) {
  const devices = options.devices;
  const cluster = await Cluster.up({
    // They download, hash and check signatures: the device simulator's cameras.
    cameras: 'sim',
    pods: options.pods,
    sims: Math.min(2, devices),
    devices,
    throttledDevices: 0,
    throttledApplyMs: 0,
    logLevel: options.logLevel,
    cpuProfDir: null,
    redis: 'single',
    clusterMasters: 1,
    podName: presigned ? 'bench-presigned' : 'bench-pod-served',
    // Each run stores its own copy: the pod-served run reads nothing the other left behind.
    podEnv: {
      ...s3.env(presigned ? 'presigned/' : 'pod-served/'),
      FLEET_ARTIFACT_PRESIGN: presigned ? '1' : '0',
    },
    signatures: { trustedKeys: [artifact.publicKeyPem], requireSignature: true },
  });
  try {
    await cluster.all({ type: 'provision' });
    const pod = cluster.pods[0];
    if (!pod) throw new Error('no pod');
    const upload = await fetch(`${pod.url}/artifacts`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}` },
      body: artifact.bytes,
    });
    if (!upload.ok) throw new Error(`artifact upload: HTTP ${upload.status} ${await upload.text()}`);
    const manifest = {
      name: 'bench-firmware',
      version: '3.0.0',
      sha256: artifact.sha256,
      size: artifact.bytes.length,
    };
    const patch = await cluster.admin.client.patch.publish.mutate({
      name: manifest.name,
      version: manifest.version,
      artifact: { sha256: manifest.sha256, size: manifest.size },
      signature: signManifest(manifest, artifact.privateKeyPem),
    });
    const counters = () =>
      Promise.all([
        Promise.all(cluster.pods.map((p) => bytesServed(p.url))),
        cluster.podsUsage(),
        cluster.all({ type: 'downloads' }),
      ] as const);
    const [servedBefore, podsBefore, simsBefore] = await counters();
    const createdAt = Date.now();
    const rollout = await cluster.admin.client.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'selector', selector: `${GROUP_LABEL}=main` },
      // A loaded machine's downloads must not time out into retries (each one a second download).
      ackTimeoutMs: 600_000,
    });
    await succeeded(cluster, rollout.id, devices);
    const allSucceededMs = Date.now() - createdAt;
    const [servedAfter, podsAfter, simsAfter] = await counters();
    const refused = sum(simsAfter.map((s) => s.checksumFailures + s.signatureRefusals));
    if (refused > 0) throw new Error(`${refused} downloads failed their checksum or signature`);
    const bytesThroughPods = sum(servedAfter) - sum(servedBefore);
    const downloaded =
      sum(simsAfter.map((s) => s.downloadBytes)) - sum(simsBefore.map((s) => s.downloadBytes));
    const podCpuMs = sum(podsAfter.map((p, i) => p.cpuMs - (podsBefore[i]?.cpuMs ?? 0)));
    return {
      presigned,
      deliveries: devices,
      bytesThroughPods,
      bytesThroughPodsPerDelivery: round(bytesThroughPods / devices, 1),
      bytesDownloadedPerDelivery: round(downloaded / devices, 1),
      allSucceededMs,
      podCpuMsPer1000: round((podCpuMs * 1000) / devices, 0),
    } satisfies ArtifactRun;
  } finally {
    await cluster.down();
  }
}

/** The same signed artifact to the same number of cameras, presigned and then pod-served. */
export async function artifacts(options: ArtifactsOptions): Promise<ArtifactsResult> {
  const bytes = randomBytes(options.artifactBytes);
  const keys = generateSigningKeys();
  const artifact: Artifact = {
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    publicKeyPem: keys.publicKeyPem,
    privateKeyPem: keys.privateKeyPem,
  };
  const s3 = await startTestS3('camfleet-bench');
  try {
    const presigned = await run(s3, artifact, options, true);
    const podServed = await run(s3, artifact, options, false);
    return {
      artifactBytes: bytes.length,
      devices: options.devices,
      pods: options.pods,
      presigned,
      podServed,
    };
  } finally {
    await s3.destroy();
  }
}
