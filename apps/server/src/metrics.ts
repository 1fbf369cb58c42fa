import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/*
 * Prometheus metrics of one pod, served at `GET /metrics` (text format 0.0.4). Every pod has its
 * own registry (never prom-client's global one), so several pods in one process never share a
 * series. Labels are bounded: no device ids, at most MAX_ROLLOUTS_REPORTED rollout ids.
 *
 *   Node defaults (collectDefaultMetrics): process_*, nodejs_* including nodejs_eventloop_lag_*
 *   camfleet_connected_devices                    gauge      device offer subscriptions held by this pod
 *   camfleet_connections{kind}                    gauge      authenticated WebSockets; kind: device|admin|enrollee
 *   camfleet_offers_sent_total{type}              counter    events pushed to devices; type: offer|cancel
 *   camfleet_reports_total{status,outcome}        counter    device reports; status: the reported status,
 *                                                            outcome: accepted|duplicate|<FleetError code>|error
 *   camfleet_deliveries{rollout,state}            gauge      per-state delivery counts of live rollouts (the
 *                                                            controller's view, read at scrape time; the newest
 *                                                            MAX_ROLLOUTS_REPORTED live rollouts only)
 *   camfleet_live_rollouts                        gauge      live rollouts (active or paused), uncapped
 *   camfleet_timeouts_total                       counter    in-flight attempts past their ack deadline (sweeper)
 *   camfleet_retries_total                        counter    timed-out attempts given another attempt (sweeper)
 *   camfleet_sweep_claimed_total                  counter    due devices claimed by this pod's sweeps
 *   camfleet_redis_command_seconds{script}        histogram  latency of single Lua script calls (runScript)
 *   camfleet_replication_short_total{script}      counter    writes fewer replicas confirmed than FLEET_REDIS_WAIT_REPLICAS
 *   camfleet_hints_total{kind}                    counter    hint messages acted on (pub/sub or own sweep);
 *                                                            kind: devices|broadcast|capacity|kick|drop
 *   camfleet_reconcile_runs_total{loop}           counter    passes of each background loop (sweep, heartbeat, reap,
 *                                                            attach-repair, rollout-gates, slot-reconcile, rollout-revisions,
 *                                                            legacy-patch-list)
 *   camfleet_reconcile_errors_total{loop}         counter    passes of a background loop that failed
 *   camfleet_limit_refusals_total{limit}          counter    requests, sockets and subscriptions refused by a limit
 *                                                            (contracts' LIMIT_NAMES)
 *   camfleet_auth_failures_total{kind}            counter    refused credentials; kind: admin|device|enroll|artifact|legacy
 *   camfleet_artifact_bytes_served_total          counter    artifact bytes this pod sent to devices (~0 with presigned URLs)
 *
 *   Webhooks (registered on this registry by webhooks/metrics.ts; loops webhook-pump, webhook-send above):
 *   camfleet_webhook_sends_total{outcome}         counter    webhook requests sent; outcome: delivered|http|redirect|
 *                                                            timeout|network|refused
 *   camfleet_webhook_given_up_total               counter    deliveries given up (most attempts or longest age)
 *   camfleet_webhook_dropped_total                counter    deliveries dropped from a full endpoint backlog
 *   camfleet_webhook_disabled_total               counter    endpoints this pod disabled after consecutive failures
 *   camfleet_webhook_backlog                      gauge      deliveries waiting, all endpoints (read at scrape time)
 *   camfleet_webhook_endpoints_disabled           gauge      endpoints disabled now (read at scrape time)
 *   camfleet_webhook_sends_in_flight              gauge      webhook sends under way on this pod
 */

/** How many live rollouts `camfleet_deliveries` reports at most (the newest ones). */
export const MAX_ROLLOUTS_REPORTED = 50;

export const CONNECTION_KINDS = ['device', 'admin', 'enrollee'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

export const HINT_KINDS = ['devices', 'offers', 'broadcast', 'capacity', 'kick', 'drop', 'reassert'] as const;
export type HintKind = (typeof HINT_KINDS)[number];

/** Delivery counts of the live rollouts, as the controller sees them. */
export interface LiveDeliveries {
  /** Live rollouts in all, including those left out of `rollouts` by the cap. */
  total: number;
  rollouts: Array<{ rolloutId: string; counts: Readonly<Record<string, number>> }>;
}

/** Where the gauges read at scrape time come from; unbound sources report nothing. */
export interface MetricSources {
  sessions(): number;
  connections(): Readonly<Record<string, number>>;
  liveDeliveries(): Promise<LiveDeliveries>;
}

/** A scrape never waits longer than this for Redis (the deliveries gauge is then left empty). */
const SOURCE_TIMEOUT_MS = 2_000;

export class Metrics {
  readonly registry = new Registry();
  private sources: Partial<MetricSources> = {};

  readonly connectedDevices: Gauge;
  readonly connections: Gauge<'kind'>;
  readonly offersSent: Counter<'type'>;
  readonly reports: Counter<'status' | 'outcome'>;
  readonly artifactBytesServed: Counter;
  readonly deliveries: Gauge<'rollout' | 'state'>;
  readonly liveRollouts: Gauge;
  readonly timeouts: Counter;
  readonly retries: Counter;
  readonly sweepClaimed: Counter;
  readonly redisCommandSeconds: Histogram<'script'>;
  readonly hints: Counter<'kind'>;
  readonly replicationShort: Counter<'script'>;
  readonly reconcileRuns: Counter<'loop'>;
  readonly reconcileErrors: Counter<'loop'>;
  readonly limitRefusals: Counter<'limit'>;
  readonly authFailures: Counter<'kind'>;

  /** `defaultMetrics`: also the Node process metrics (a pod wants them; script-level tests do not). */
  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const sources = () => this.sources;

    this.connectedDevices = new Gauge({
      name: 'camfleet_connected_devices',
      help: 'Device offer subscriptions held by this pod',
      registers,
      collect() {
        const sessions = sources().sessions;
        if (sessions) this.set(sessions());
      },
    });
    this.connections = new Gauge({
      name: 'camfleet_connections',
      help: 'Authenticated WebSocket connections on this pod, by principal kind',
      labelNames: ['kind'],
      registers,
      collect() {
        const connections = sources().connections;
        if (!connections) return;
        const counts = connections();
        this.reset();
        for (const kind of CONNECTION_KINDS) this.set({ kind }, counts[kind] ?? 0);
      },
    });
    this.offersSent = new Counter({
      name: 'camfleet_offers_sent_total',
      help: 'Offers and cancel requests pushed to devices by this pod',
      labelNames: ['type'],
      registers,
    });
    this.artifactBytesServed = new Counter({
      name: 'camfleet_artifact_bytes_served_total',
      help: 'Artifact bytes this pod sent to devices (presigned downloads bypass it)',
      registers,
    });
    this.reports = new Counter({
      name: 'camfleet_reports_total',
      help: 'Device reports received by this pod, by reported status and outcome',
      labelNames: ['status', 'outcome'],
      registers,
    });
    this.deliveries = new Gauge({
      name: 'camfleet_deliveries',
      help: `Deliveries of live rollouts by state (the newest ${MAX_ROLLOUTS_REPORTED} live rollouts)`,
      labelNames: ['rollout', 'state'],
      registers,
    });
    this.liveRollouts = new Gauge({
      name: 'camfleet_live_rollouts',
      help: 'Live (active or paused) rollouts, including those beyond the camfleet_deliveries cap',
      registers,
    });
    this.timeouts = new Counter({
      name: 'camfleet_timeouts_total',
      help: 'In-flight delivery attempts that passed their ack deadline, found by this pod’s sweeps',
      registers,
    });
    this.retries = new Counter({
      name: 'camfleet_retries_total',
      help: 'Timed-out delivery attempts that were given another attempt (after backoff)',
      registers,
    });
    this.sweepClaimed = new Counter({
      name: 'camfleet_sweep_claimed_total',
      help: 'Due devices claimed by this pod’s deadline sweeps',
      registers,
    });
    this.redisCommandSeconds = new Histogram({
      name: 'camfleet_redis_command_seconds',
      help: 'Latency of single Lua script calls to Redis, by script',
      labelNames: ['script'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.replicationShort = new Counter({
      name: 'camfleet_replication_short_total',
      help: 'Writes that fewer replicas confirmed (WAIT) than FLEET_REDIS_WAIT_REPLICAS asks, by script',
      labelNames: ['script'],
      registers,
    });
    this.hints = new Counter({
      name: 'camfleet_hints_total',
      help: 'Hints this pod acted on (from pub/sub or its own sweep), by kind',
      labelNames: ['kind'],
      registers,
    });
    this.reconcileRuns = new Counter({
      name: 'camfleet_reconcile_runs_total',
      help: 'Passes of each background loop',
      labelNames: ['loop'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'camfleet_reconcile_errors_total',
      help: 'Failed passes of each background loop',
      labelNames: ['loop'],
      registers,
    });
    this.limitRefusals = new Counter({
      name: 'camfleet_limit_refusals_total',
      help: 'Requests, sockets and subscriptions this pod refused because of a limit, by limit',
      labelNames: ['limit'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'camfleet_auth_failures_total',
      help: 'Credentials this pod refused, by kind of credential',
      labelNames: ['kind'],
      registers,
    });
  }

  /** Tells the scrape-time gauges where to read. */
  bind(sources: Partial<MetricSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** For `observeScripts`: one script call took `seconds`. */
  readonly observeScript = (script: string, seconds: number): void => {
    this.redisCommandSeconds.observe({ script }, seconds);
  };

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text. The deliveries gauges are refreshed first (a bounded Redis read). */
  async render(): Promise<string> {
    await this.refreshDeliveries();
    return this.registry.metrics();
  }

  private async refreshDeliveries(): Promise<void> {
    const read = this.sources.liveDeliveries;
    if (!read) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), SOURCE_TIMEOUT_MS);
    });
    const live = await Promise.race([read().catch(() => null), timeout]);
    clearTimeout(timer);
    this.deliveries.reset();
    if (!live) return;
    this.liveRollouts.set(live.total);
    for (const { rolloutId, counts } of live.rollouts.slice(0, MAX_ROLLOUTS_REPORTED)) {
      for (const [state, value] of Object.entries(counts))
        this.deliveries.set({ rollout: rolloutId, state }, value);
    }
  }
}
