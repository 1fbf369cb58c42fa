/**
 * The deployment side, checked offline: each Kustomize overlay is rendered with `kubectl kustomize`,
 * every object is validated against the Kubernetes API schemas (kubernetes-models), and the
 * manifests are cross-checked against the server itself: the env names are ones its config reads,
 * the resolved environment loads, the probe paths answer on a real pod, the ports agree.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ROOT, startTestRedis, type TestRedis } from '@camfleet/test-support';
import { Deployment, type IDeployment, type IStatefulSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { type IJob, Job } from 'kubernetes-models/batch/v1';
import { type INetworkPolicy, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  type IConfigMap,
  type IContainer,
  type INamespace,
  type IPodSpec,
  type IPodTemplateSpec,
  type IProbe,
  type ISecret,
  type IService,
  Namespace,
  Secret,
  Service,
} from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCli } from '../../apps/device-sim/src/cli.js';
import { ConfigError, loadConfig, loadRedisConfig, type ServerConfig } from '../../apps/server/src/config.js';
import type { RunningServer } from '../../apps/server/src/server.js';
import { startTestPod } from '../../apps/server/src/testing/in-process.js';

const INFRA = join(ROOT, 'infra');
const OVERLAYS = ['minikube', 'production'] as const;
type Overlay = (typeof OVERLAYS)[number];
const NAMESPACE = 'camfleet';
/** What a pod name looks like, for `fieldRef: metadata.name`. */
const POD_NAME = { server: 'camfleet-server-7d9f8c6b5d-x2x4q', sim: 'camfleet-sim-k7m2p' };

// ---------------------------------------------------------------------------------------------
// Rendering and schema validation
// ---------------------------------------------------------------------------------------------

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

type ModelClass = new (data: never) => { validate(): void };

/** The kinds the overlays may contain, each with its schema-validating model. */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

let kubectlChecked = false;
function kubectl(args: string[]): string {
  if (!kubectlChecked) {
    const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        'kubectl is required by test/infra: it renders the Kustomize overlays with `kubectl kustomize` ' +
          `(kubectl version --client: ${probe.error?.message ?? probe.stderr.trim()}). ` +
          'Install kubectl (https://kubernetes.io/docs/tasks/tools/) and run the tests again.',
      );
    }
    kubectlChecked = true;
  }
  return execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

class Rendered {
  constructor(
    readonly overlay: Overlay,
    readonly objects: K8sObject[],
  ) {}

  all<T>(kind: string): T[] {
    return this.objects.filter((o) => o.kind === kind) as T[];
  }

  maybe<T>(kind: string, name: string): T | undefined {
    return this.objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
  }

  get<T>(kind: string, name: string): T {
    const found = this.maybe<T>(kind, name);
    if (!found) {
      const names = this.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
      throw new Error(`${this.overlay}: no ${kind} named ${name} (rendered: ${names})`);
    }
    return found;
  }

  /** A ConfigMap or Secret by the name a reference uses (generated ones carry a hash suffix, resolved by Kustomize). */
  data(kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> | undefined {
    if (kind === 'ConfigMap') return this.maybe<IConfigMap>('ConfigMap', name)?.data ?? undefined;
    const secret = this.maybe<ISecret>('Secret', name);
    if (!secret) return undefined;
    const decoded: Record<string, string> = { ...(secret.stringData ?? {}) };
    for (const [key, value] of Object.entries(secret.data ?? {})) {
      decoded[key] = Buffer.from(value, 'base64').toString('utf8');
    }
    return decoded;
  }
}

const renders = new Map<Overlay, Rendered>();
function render(overlay: Overlay): Rendered {
  let rendered = renders.get(overlay);
  if (!rendered) {
    const yaml = kubectl(['kustomize', join(INFRA, 'k8s', 'overlays', overlay)]);
    const objects = parseAllDocuments(yaml).map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${overlay}: document ${i}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject;
    });
    rendered = new Rendered(overlay, objects);
    renders.set(overlay, rendered);
  }
  return rendered;
}

// ---------------------------------------------------------------------------------------------
// Cross-checks with the server and the simulator
// ---------------------------------------------------------------------------------------------

/**
 * Whether the server's configuration reads an environment variable. config.ts does not export its
 * schema, so ask loadConfig: a variable it reads, set to an invalid value, is named in the error
 * (`  NAME: …`); one it ignores never is. Every setting refuses '' or a non-number.
 */
function serverReads(name: string): boolean {
  for (const value of ['', 'not a valid value \u0000']) {
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (error.message.split('\n').some((line) => line.startsWith(`  ${name}:`))) return true;
    }
  }
  return false;
}

/** Names of the environment variables a container gets: `env` and every key of its `envFrom` sources. */
function envNames(rendered: Rendered, container: IContainer): string[] {
  const names = (container.env ?? []).map((e) => e.name);
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const data = ref?.name ? rendered.data(kind, ref.name) : undefined;
    // An external source would hide which names the container gets: only rendered ones are allowed.
    if (!data) throw new Error(`${rendered.overlay}: envFrom ${kind} ${ref?.name} is not in the overlay`);
    names.push(...Object.keys(data).map((key) => `${source.prefix ?? ''}${key}`));
  }
  return names;
}

/**
 * The environment the kubelet would give the container. Secrets that the overlay only references
 * (production) are unknown here: an optional key is taken as absent (the harder case), a required
 * one as a 32-character placeholder.
 */
function resolveEnv(rendered: Rendered, container: IContainer, podName: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const data = rendered.data(source.configMapRef ? 'ConfigMap' : 'Secret', ref?.name ?? '') ?? {};
    for (const [key, value] of Object.entries(data)) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const item of container.env ?? []) {
    const from = item.valueFrom;
    if (item.value !== undefined) {
      env[item.name] = item.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);
    } else if (from?.fieldRef) {
      expect(from.fieldRef.fieldPath, `${item.name}: only metadata.name is resolved here`).toBe(
        'metadata.name',
      );
      env[item.name] = podName;
    } else if (from?.secretKeyRef || from?.configMapKeyRef) {
      const ref = from.secretKeyRef ?? from.configMapKeyRef!;
      const data = rendered.data(from.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name ?? '');
      if (data) {
        const value = data[ref.key];
        if (value === undefined && !ref.optional) throw new Error(`${item.name}: no key ${ref.key}`);
        if (value !== undefined) env[item.name] = value;
      } else if (!ref.optional) {
        env[item.name] = 'x'.repeat(32);
      }
    } else {
      throw new Error(`${item.name}: unsupported env source`);
    }
  }
  return env;
}

/** Kubernetes `$(VAR)` expansion of command and args. */
function expand(args: string[], env: Record<string, string>): string[] {
  return args.map((arg) => arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m));
}

function containerNamed(spec: IPodSpec, name: string): IContainer {
  const container = spec.containers.find((c) => c.name === name);
  if (!container) throw new Error(`no container ${name}`);
  return container;
}

/** The number a probe's or Service's port means in this container (a name resolves to its containerPort). */
function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string> = {}) {
  expect(Object.keys(selector ?? {}).length, 'an empty selector matches everything').toBeGreaterThan(0);
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

/** Bytes of a Kubernetes memory quantity (`1Gi`, `512Mi`, `1536Mi`, `2G`). */
function k8sBytes(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (!match) throw new Error(`unsupported quantity ${quantity}`);
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (match[2] ? (units[match[2]] ?? 1) : 1);
}

/** Bytes of a Redis memory setting (`512mb` = 512 MiB, `2gb`, `100m` = 10^8). */
function redisBytes(setting: string): number {
  const match = /^(\d+)(kb|mb|gb|k|m|g)?$/i.exec(setting);
  if (!match) throw new Error(`unsupported Redis size ${setting}`);
  const units: Record<string, number> = { kb: 2 ** 10, mb: 2 ** 20, gb: 2 ** 30, k: 1e3, m: 1e6, g: 1e9 };
  return Number(match[1]) * (match[2] ? (units[match[2].toLowerCase()] ?? 1) : 1);
}

/** `--flag value` pairs of a command line. */
function flags(args: string[]): Map<string, string> {
  const result = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--')) result.set(arg, args[i + 1] ?? '');
  }
  return result;
}

function serverDeployment(rendered: Rendered) {
  const deployment = rendered.get<IDeployment>('Deployment', 'camfleet-server');
  const template = deployment.spec!.template;
  const spec = template.spec!;
  return { deployment, template, spec, container: containerNamed(spec, 'server') };
}

/** The server's configuration as the pod would load it. */
function serverConfig(rendered: Rendered): ServerConfig {
  const { container } = serverDeployment(rendered);
  return loadConfig(resolveEnv(rendered, container, POD_NAME.server));
}

function podTemplates(rendered: Rendered): { owner: string; template: IPodTemplateSpec }[] {
  return [
    ...rendered
      .all<IDeployment>('Deployment')
      .map((d) => ({ owner: d.metadata!.name!, template: d.spec!.template })),
    ...rendered
      .all<IStatefulSet>('StatefulSet')
      .map((s) => ({ owner: s.metadata!.name!, template: s.spec!.template })),
    ...rendered.all<IJob>('Job').map((j) => ({ owner: j.metadata!.name!, template: j.spec!.template })),
  ];
}

function probesOf(container: IContainer): [string, IProbe][] {
  const probes: [string, IProbe | undefined][] = [
    ['startupProbe', container.startupProbe],
    ['readinessProbe', container.readinessProbe],
    ['livenessProbe', container.livenessProbe],
  ];
  return probes.filter((entry): entry is [string, IProbe] => entry[1] !== undefined);
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  let rendered: Rendered;
  beforeAll(() => {
    rendered = render(overlay);
  });

  it('renders objects that all validate against the Kubernetes API schemas', () => {
    const problems: string[] = [];
    for (const object of rendered.objects) {
      const id = `${object.apiVersion}/${object.kind}`;
      const Model = MODELS[id];
      if (!Model) {
        problems.push(`${id} ${object.metadata?.name}: no schema registered in this test (add it to MODELS)`);
        continue;
      }
      try {
        new Model(object as never).validate();
      } catch (error) {
        problems.push(`${id} ${object.metadata.name}: ${error instanceof Error ? error.message : error}`);
      }
    }
    expect(problems).toEqual([]);
    const kinds = new Set(rendered.objects.map((o) => o.kind));
    for (const kind of [
      'Namespace',
      'ConfigMap',
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'StatefulSet',
      'NetworkPolicy',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it('puts everything in the camfleet namespace, which enforces the restricted Pod Security Standard', () => {
    const namespace = rendered.get<INamespace>('Namespace', NAMESPACE);
    expect(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const object of rendered.objects) {
      if (object.kind !== 'Namespace')
        expect(object.metadata.namespace, object.metadata.name).toBe(NAMESPACE);
    }
  });

  it('gives the server only environment variables its configuration reads, and a configuration that loads', () => {
    expect(serverReads('PORT') && serverReads('HOST') && serverReads('FLEET_ADMIN_TOKENS_FILE')).toBe(true);
    expect(serverReads('NODE_OPTIONS') || serverReads('FLEET_NOT_A_SETTING')).toBe(false);

    const { container } = serverDeployment(rendered);
    const names = envNames(rendered, container);
    expect(names).toEqual(
      expect.arrayContaining(['REDIS_URL', 'PORT', 'FLEET_NODE_ID', 'FLEET_ENROLL_TOKEN']),
    );
    expect(names.filter((name) => !serverReads(name))).toEqual([]);

    const config = serverConfig(rendered);
    expect(config.nodeId).toBe(POD_NAME.server);
    expect(config.adminToken !== null || config.adminTokensFile !== null).toBe(true);
  });

  it('exposes the port the server listens on (PORT), and probes and the Service use it', () => {
    const { template, container } = serverDeployment(rendered);
    const config = serverConfig(rendered);
    const http = container.ports?.find((p) => p.name === 'http');
    expect(http?.containerPort).toBe(config.port);
    const probes = probesOf(container);
    expect(probes.map(([kind]) => kind).sort()).toEqual(['livenessProbe', 'readinessProbe', 'startupProbe']);
    for (const [kind, probe] of probes) {
      expect(portNumber(container, probe.httpGet?.port), kind).toBe(config.port);
    }
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');

    const service = rendered.get<IService>('Service', 'camfleet-server');
    expect(labelsMatch(service.spec?.selector, template.metadata?.labels)).toBe(true);
    const port = service.spec?.ports?.find((p) => p.name === 'http');
    expect(portNumber(container, port?.targetPort)).toBe(config.port);
  });

  it('lets a pod drain before it is killed: preStop, then the server shutdown, inside the grace period', () => {
    const { spec, container } = serverDeployment(rendered);
    const config = serverConfig(rendered);
    const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop[0]).toBe('sleep');
    const preStopSeconds = Number(preStop[1]);
    expect(preStopSeconds).toBeGreaterThanOrEqual(2);
    expect(preStopSeconds).toBeLessThanOrEqual(15);
    // Server shutdown: up to shutdownGraceMs for clients to move, up to as long again to leave Redis.
    const shutdownSeconds = (2 * config.shutdownGraceMs) / 1000;
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopSeconds + shutdownSeconds + 5);
  });

  it('runs every container unprivileged on a read-only root filesystem, with /tmp on an emptyDir', () => {
    const templates = podTemplates(rendered);
    expect(templates.length).toBeGreaterThanOrEqual(2);
    for (const { owner, template } of templates) {
      const spec = template.spec!;
      expect(spec.securityContext?.runAsNonRoot, owner).toBe(true);
      expect(spec.securityContext?.runAsUser, owner).toBeGreaterThan(0);
      expect(spec.securityContext?.seccompProfile?.type, owner).toBe('RuntimeDefault');
      expect(spec.automountServiceAccountToken, owner).toBe(false);
      for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const where = `${owner}/${container.name}`;
        const security = container.securityContext;
        expect(security?.allowPrivilegeEscalation, where).toBe(false);
        expect(security?.readOnlyRootFilesystem, where).toBe(true);
        expect(security?.capabilities?.drop, where).toContain('ALL');
        expect(security?.capabilities?.add ?? [], where).toEqual([]);
        expect(container.resources?.requests?.memory, where).toBeDefined();
        expect(container.resources?.limits?.memory, where).toBeDefined();
      }
    }
    for (const { owner, template } of templates.filter((t) => t.owner !== 'camfleet-redis')) {
      const spec = template.spec!;
      for (const container of spec.containers) {
        const mount = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
        const volume = spec.volumes?.find((v) => v.name === mount?.name);
        expect(volume?.emptyDir, `${owner}/${container.name}: /tmp`).toBeDefined();
      }
    }
  });

  it('spreads server pods, autoscales them on CPU and limits disruptions to one at a time', () => {
    const { deployment, template, spec } = serverDeployment(rendered);
    // The autoscaler owns the replica count: a count in the manifest would reset it on every apply.
    expect(deployment.spec?.replicas).toBeUndefined();
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    const keys = (spec.topologySpreadConstraints ?? []).map((c) => c.topologyKey);
    expect(keys).toEqual(expect.arrayContaining(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']));
    for (const constraint of spec.topologySpreadConstraints ?? []) {
      expect(labelsMatch(constraint.labelSelector?.matchLabels, template.metadata?.labels)).toBe(true);
    }
    expect(labelsMatch(deployment.spec?.selector.matchLabels, template.metadata?.labels)).toBe(true);

    const hpa = rendered.get<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'camfleet-server');
    expect(hpa.spec?.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
    expect(hpa.spec?.scaleTargetRef.name).toBe(deployment.metadata?.name);
    expect(hpa.spec?.metrics?.map((m) => m.resource?.name)).toEqual(['cpu']);
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec?.maxReplicas).toBeGreaterThanOrEqual(hpa.spec?.minReplicas ?? 1);

    const pdb = rendered.get<IPodDisruptionBudget>('PodDisruptionBudget', 'camfleet-server');
    expect(pdb.spec?.maxUnavailable).toBe(1);
    expect(labelsMatch(pdb.spec?.selector?.matchLabels, template.metadata?.labels)).toBe(true);
  });

  it('runs Redis with AOF every second, noeviction and a persistent volume, reachable at REDIS_URL', () => {
    const redis = rendered.get<IStatefulSet>('StatefulSet', 'camfleet-redis');
    const template = redis.spec!.template;
    const container = containerNamed(template.spec!, 'redis');
    const args = flags([...(container.command ?? []), ...(container.args ?? [])]);
    expect(args.get('--appendonly')).toBe('yes');
    expect(args.get('--appendfsync')).toBe('everysec');
    expect(args.get('--maxmemory-policy')).toBe('noeviction');
    // maxmemory leaves room under the container limit for the fork of an AOF rewrite.
    const maxmemory = redisBytes(args.get('--maxmemory') ?? '0');
    expect(maxmemory).toBeGreaterThan(0);
    expect(maxmemory).toBeLessThanOrEqual(0.6 * k8sBytes(container.resources?.limits?.memory ?? 0));

    const claim = redis.spec?.volumeClaimTemplates?.find((c) => c.metadata?.name === 'data');
    expect(claim?.spec?.resources?.requests?.storage).toBeDefined();
    expect(container.volumeMounts?.find((m) => m.name === 'data')?.mountPath).toBe(args.get('--dir'));
    expect(rendered.get<IService>('Service', redis.spec?.serviceName ?? '').spec?.clusterIP).toBe('None');

    const target = serverConfig(rendered).redis;
    if (target.mode !== 'single') throw new Error(`the base runs one Redis instance, not ${target.mode}`);
    const url = new URL(target.url);
    const service = rendered.get<IService>('Service', url.hostname);
    expect(labelsMatch(service.spec?.selector, template.metadata?.labels)).toBe(true);
    const port = service.spec?.ports?.find((p) => p.port === Number(url.port || 6379));
    expect(portNumber(container, port?.targetPort)).toBe(6379);

    // Only the server pods may reach Redis.
    const policy = rendered.get<INetworkPolicy>('NetworkPolicy', 'camfleet-redis');
    expect(labelsMatch(policy.spec?.podSelector?.matchLabels, template.metadata?.labels)).toBe(true);
    const from = policy.spec?.ingress?.flatMap((rule) => rule.from ?? []) ?? [];
    expect(from.length).toBeGreaterThan(0);
    const serverLabels = serverDeployment(rendered).template.metadata?.labels;
    for (const peer of from) expect(labelsMatch(peer.podSelector?.matchLabels, serverLabels)).toBe(true);
  });

  it('pins every image to a tag or digest', () => {
    for (const { owner, template } of podTemplates(rendered)) {
      for (const container of template.spec!.containers) {
        expect(container.image, owner).toMatch(/(:[\w][\w.-]*|@sha256:[a-f0-9]{64})$/);
        expect(container.image, owner).not.toMatch(/:latest$/);
      }
    }
  });
});

describe('overlay minikube (local development)', () => {
  let rendered: Rendered;
  beforeAll(() => {
    rendered = render('minikube');
  });

  it('serves on NodePort 31567 with one or two server pods', () => {
    const service = rendered.get<IService>('Service', 'camfleet-server');
    expect(service.spec?.type).toBe('NodePort');
    expect(service.spec?.ports?.find((p) => p.name === 'http')?.nodePort).toBe(31567);
    const hpa = rendered.get<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'camfleet-server');
    expect(hpa.spec?.minReplicas).toBe(1);
    expect(hpa.spec?.maxReplicas).toBe(2);
  });

  it('generates the dev-only tokens Secret from the committed example, and the server loads them', () => {
    const secrets = rendered.all<ISecret>('Secret');
    expect(secrets.map((s) => s.metadata?.name)).toEqual([expect.stringMatching(/^camfleet-secrets-/)]);
    expect(secrets[0]?.metadata?.labels?.['camfleet.dev/dev-only']).toBe('true');
    const config = serverConfig(rendered);
    expect(config.adminToken).toMatch(/^dev-only-/);
    expect(config.enrollToken).toMatch(/^dev-only-/);
  });

  it('runs the simulator Job in-cluster: enrolls with the Secret token against the server Service', () => {
    const job = rendered.get<IJob>('Job', 'camfleet-sim');
    const container = containerNamed(job.spec!.template.spec!, 'sim');
    const env = resolveEnv(rendered, container, POD_NAME.sim);
    // Env vars are ones the simulator reads, or ones its args expand.
    for (const name of envNames(rendered, container)) {
      const used =
        ['FLEET_ENROLL_TOKEN', 'FLEET_URL'].includes(name) ||
        (container.args ?? []).some((arg) => arg.includes(`$(${name})`));
      expect(used, name).toBe(true);
    }
    const parsed = parseCli(expand(container.args ?? [], env), env);
    if (parsed.kind !== 'run') throw new Error(`the Job's args are refused: ${parsed.output}`);
    const options = parsed.options;
    expect(options.enrollToken).toBe(serverConfig(rendered).enrollToken);
    expect(options.prefix).toBe(POD_NAME.sim);
    expect(options.devices).toBeGreaterThan(0);
    expect(options.exitWhenIdleMs).toBeGreaterThan(0);
    expect(dirname(options.credentialsFile ?? '')).toBe('/tmp');

    const { container: server } = serverDeployment(rendered);
    for (const raw of options.urls) {
      const url = new URL(raw);
      const service = rendered.get<IService>('Service', url.hostname);
      const port = service.spec?.ports?.find((p) => p.port === Number(url.port));
      expect(portNumber(server, port?.targetPort), raw).toBe(serverConfig(rendered).port);
    }
  });

  it('uses the locally built :dev images', () => {
    const images = podTemplates(rendered).flatMap(({ template }) =>
      template.spec!.containers.map((c) => c.image),
    );
    expect(images).toEqual(expect.arrayContaining(['camfleet-server:dev', 'camfleet-sim:dev']));
  });
});

describe('overlay production', () => {
  let rendered: Rendered;
  beforeAll(() => {
    rendered = render('production');
  });

  it('generates no Secret: it references camfleet-secrets and camfleet-admin-tokens, which must exist', () => {
    expect(rendered.all<ISecret>('Secret')).toEqual([]);
    const { spec, container } = serverDeployment(rendered);
    const refs = (container.env ?? []).flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
    );
    expect(refs.map((r) => r.name)).toEqual(['camfleet-secrets', 'camfleet-secrets']);

    // Operator tokens come from a mounted file of digests; the pod waits for it (not optional).
    const config = serverConfig(rendered);
    const file = config.adminTokensFile ?? '';
    expect(file).not.toBe('');
    const mount = container.volumeMounts?.find((m) => m.mountPath === dirname(file));
    const volume = spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('camfleet-admin-tokens');
    expect(volume?.secret?.optional ?? false).toBe(false);
    expect(volume?.secret?.items?.map((item) => item.path)).toEqual([basename(file)]);
  });

  it('keeps at least three server pods, with room to scale', () => {
    const hpa = rendered.get<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'camfleet-server');
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(3);
    expect(hpa.spec?.maxReplicas).toBeGreaterThanOrEqual(2 * (hpa.spec?.minReplicas ?? 0));
    const { container } = serverDeployment(rendered);
    expect(k8sBytes(container.resources?.requests?.memory ?? 0)).toBeGreaterThanOrEqual(k8sBytes('512Mi'));
  });

  it('runs no simulator and no :dev image', () => {
    expect(rendered.all<IJob>('Job')).toEqual([]);
    for (const { template } of podTemplates(rendered)) {
      for (const container of template.spec!.containers) expect(container.image).not.toMatch(/:dev$/);
    }
  });
});

describe('the grow-buckets component, added to the production overlay', () => {
  it("runs the growth job from the server image with the pods' Redis settings", async () => {
    // A copy of infra/k8s whose production overlay names the component, as an operator adds it.
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-k8s-'));
    try {
      await cp(join(INFRA, 'k8s'), join(dir, 'k8s'), { recursive: true });
      const overlay = join(dir, 'k8s', 'overlays', 'production', 'kustomization.yaml');
      await appendFile(overlay, 'components:\n  - ../../components/grow-buckets\n');
      const objects = parseAllDocuments(kubectl(['kustomize', dirname(overlay)])).map(
        (doc) => doc.toJS() as K8sObject,
      );
      const rendered = new Rendered('production', objects);
      const job = rendered.get<IJob>('Job', 'camfleet-grow-buckets');
      new Job(job as never).validate();
      expect(job.metadata?.namespace).toBe(NAMESPACE);
      const container = containerNamed(job.spec!.template.spec!, 'grow-buckets');
      // The server image's entry is src/main.ts in /app (apps/server here): the job is its sibling.
      const [, , , entry = ''] = container.command ?? [];
      expect(readFileSync(join(ROOT, 'apps', 'server', entry), 'utf8')).toContain('BucketGrowth');
      expect(container.image).toBe(serverDeployment(rendered).container.image);
      expect(container.args).toEqual(['--to', '256']);
      const config = loadRedisConfig(resolveEnv(rendered, container, 'camfleet-grow-buckets-x7k2p'));
      expect(config).toEqual(
        loadRedisConfig(resolveEnv(rendered, serverDeployment(rendered).container, POD_NAME.server)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('probe paths on a real server pod', () => {
  let redis: TestRedis;
  let pod: RunningServer;
  beforeAll(async () => {
    redis = await startTestRedis();
    pod = await startTestPod(redis.url);
  });
  afterAll(async () => {
    await pod?.close();
    await redis?.destroy();
  });

  it.each(OVERLAYS)(
    'answers every HTTP probe (and the metrics path) of overlay %s with 200',
    async (overlay) => {
      const { template, container } = serverDeployment(render(overlay));
      const probes = probesOf(container);
      expect(probes.length).toBe(3);
      for (const [kind, probe] of probes) {
        const path = probe.httpGet?.path ?? '';
        const response = await fetch(new URL(path, pod.url));
        expect(response.status, `${kind} ${path}`).toBe(200);
      }
      // The Prometheus scrape annotations point at the metrics the pod serves.
      const annotations = template.metadata?.annotations ?? {};
      expect(Number(annotations['prometheus.io/port'])).toBe(serverConfig(render(overlay)).port);
      const metrics = await fetch(new URL(annotations['prometheus.io/path'] ?? '', pod.url));
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('# TYPE');
      // …and a path the server does not serve would fail: the check means something.
      expect((await fetch(new URL('/not-a-probe', pod.url))).status).toBe(404);
    },
  );
});

describe('infra/Dockerfile', () => {
  const dockerfile = () => readFileSync(join(INFRA, 'Dockerfile'), 'utf8');
  /** Instructions per stage, continuation lines joined. */
  function stages(): { name: string; from: string; lines: string[] }[] {
    const result: { name: string; from: string; lines: string[] }[] = [];
    const text = dockerfile().replace(/\\\n/g, ' ');
    for (const line of text.split('\n').map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
      if (from) result.push({ from: from[1]!, name: from[2] ?? '', lines: [] });
      else result.at(-1)?.lines.push(line);
    }
    return result;
  }

  it('builds server (the default, last stage), sim and cli targets on Node 24 with the pinned pnpm', () => {
    const all = stages();
    expect(all.at(-1)?.name).toBe('server');
    expect(all.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'sim', 'cli', 'server']));
    expect(dockerfile()).toContain('ARG NODE_IMAGE=node:24-bookworm-slim');
    const { packageManager } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      packageManager: string;
    };
    expect(dockerfile()).toContain(`npm install -g ${packageManager}`);
    const build = all.find((s) => s.name === 'build')!.lines.join('\n');
    expect(build).toContain('pnpm install --frozen-lockfile');
    expect(build).toContain('deploy --prod');
    // The dashboard is built in the image and served by the server from where the server is told.
    expect(build).toContain('pnpm --filter @camfleet/dashboard build');
    const copied = /cp -r apps\/dashboard\/dist (\S+)/.exec(build)?.[1] ?? '';
    const server = all.find((s) => s.name === 'server')!.lines;
    expect(server).toContain('COPY --from=build /out/server /app');
    expect(server).toContain(`ENV FLEET_DASHBOARD_DIR=${copied.replace('/out/server', '/app')}`);
  });

  it('runs the server unprivileged on the manifests port, stops on SIGTERM, and leaves health to the probes', () => {
    const all = stages();
    const text = dockerfile();
    expect(text).not.toMatch(/^\s*HEALTHCHECK/m);
    const runtime = all.find((s) => s.name === 'runtime')!.lines;
    const user = runtime.find((l) => l.startsWith('USER'))?.split(/\s+/)[1] ?? '';
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    expect(runtime).toContain('STOPSIGNAL SIGTERM');
    const server = all.find((s) => s.name === 'server')!;
    expect(server.from).toBe('runtime');
    const exposed = server.lines.find((l) => l.startsWith('EXPOSE'))?.split(/\s+/)[1];
    for (const overlay of OVERLAYS) {
      expect(Number(exposed), overlay).toBe(serverConfig(render(overlay)).port);
      const { spec } = serverDeployment(render(overlay));
      expect(spec.securityContext?.runAsUser, overlay).toBe(Number(user.split(':')[0]));
    }
    expect(server.lines.find((l) => l.startsWith('CMD'))).toBe(
      'CMD ["node", "--import", "tsx", "src/main.ts"]',
    );
  });

  it("copies tsx into a deploy directory so that it runs TypeScript with nothing else (the build stage's step)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-deploy-'));
    try {
      await mkdir(join(dir, 'node_modules'));
      await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
      await writeFile(join(dir, 'main.ts'), 'const answer: number = 42;\nconsole.log("ok", answer);\n');
      execFileSync(
        process.execPath,
        [join(INFRA, 'docker', 'copy-dependency.mjs'), join(ROOT, 'node_modules'), dir, 'tsx'],
        { encoding: 'utf8' },
      );
      const out = execFileSync(process.execPath, ['--import', 'tsx', 'main.ts'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(out.trim()).toBe('ok 42');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
