/** A delivery's state change as the event stream reports it (a subset of contracts' FleetEvent). */
export interface DeliveryTransition {
  at: number;
  from: string | null;
  to: string;
}

const IN_FLIGHT = new Set(['offered', 'downloading', 'installing', 'verifying']);

/**
 * The largest number of deliveries in flight at once, replayed from the event stream. Events carry
 * millisecond times and come from several streams, so within one millisecond the order is unknown:
 * exits are applied before entries there (a slot freed and taken again within the same ms).
 */
export function maxInFlight(events: readonly DeliveryTransition[]): number {
  const delta = (e: DeliveryTransition) =>
    (IN_FLIGHT.has(e.to) ? 1 : 0) - (e.from !== null && IN_FLIGHT.has(e.from) ? 1 : 0);
  const ordered = [...events].sort((a, b) => a.at - b.at || delta(a) - delta(b));
  let now = 0;
  let max = 0;
  for (const e of ordered) {
    now += delta(e);
    max = Math.max(max, now);
  }
  return max;
}

/**
 * The start rate a token bucket allowed: a limit of N/min lets ⌈N/60⌉ start at once (one second of
 * burst) and then N a minute, so over the whole run (starts − burst) / span is at most the limit,
 * whether the burst came at once or was spread by another limit. `slackMs` widens the span: the
 * times are those the pods stamped, one round trip after the grant, and a busy machine stamps the
 * first starts later than the last, which shortens the span without any start coming early. `null`
 * with too few starts to tell.
 */
export function pacedPerMinute(
  events: readonly DeliveryTransition[],
  limitPerMinute: number,
  { slackMs = 0 }: { slackMs?: number } = {},
): number | null {
  const starts = events
    .filter((e) => e.to === 'offered')
    .map((e) => e.at)
    .sort((a, b) => a - b);
  const paced = starts.length - Math.ceil(limitPerMinute / 60);
  const first = starts[0];
  const last = starts.at(-1);
  if (paced < 1 || first === undefined || last === undefined || last === first) return null;
  return (paced * 60_000) / (last - first + slackMs);
}
