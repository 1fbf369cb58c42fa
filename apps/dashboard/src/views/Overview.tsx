import type { Device, FleetStats } from '@camfleet/contracts';
import { ErrorNote, useQuery } from '../components.js';
import { useLiveValue } from '../live.js';
import { useSession } from '../session.js';

/** Devices scanned for the model and firmware breakdown (one page; the fleet total is exact). */
const SCAN = 1000;

function tally(devices: readonly Device[], key: (d: Device) => string): Array<[string, number, number]> {
  const by = new Map<string, [number, number]>();
  for (const device of devices) {
    const entry = by.get(key(device)) ?? [0, 0];
    entry[0]++;
    if (device.online) entry[1]++;
    by.set(key(device), entry);
  }
  return [...by.entries()]
    .map(([name, [all, online]]): [string, number, number] => [name, all, online])
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function OverviewPage() {
  const { api } = useSession();
  const stats = useLiveValue<FleetStats>(
    (handlers) => api.fleet.watch.subscribe({ intervalMs: 1_000 }, handlers),
    [api],
  );
  // The model and firmware breakdown is read again whenever the pushed figures change.
  const inventory = useQuery(() => api.devices.list.query({ limit: SCAN }), [api, stats.data]);
  const s = stats.data;
  const devices = inventory.data?.devices ?? [];
  const partial = inventory.data?.nextCursor != null;
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Fleet overview</h1>
      <ErrorNote error={stats.error} />
      {s ? (
        <>
          <dl className="cards" aria-label="Fleet totals">
            <div className="card">
              <dt>Devices</dt>
              <dd data-testid="stat-devices">{s.devices}</dd>
            </div>
            <div className="card ok">
              <dt>Online</dt>
              <dd data-testid="stat-online">{s.online}</dd>
            </div>
            <div className="card">
              <dt>Offline</dt>
              <dd data-testid="stat-offline">{Math.max(0, s.devices - s.online)}</dd>
            </div>
            <div className="card">
              <dt>Patches</dt>
              <dd>{s.patches}</dd>
            </div>
            <div className="card">
              <dt>Rollouts</dt>
              <dd>{s.rollouts}</dd>
            </div>
          </dl>
          <div className="scroll">
            <table>
              <caption>Devices connected per pod</caption>
              <thead>
                <tr>
                  <th scope="col">Pod instance</th>
                  <th scope="col">Devices</th>
                </tr>
              </thead>
              <tbody>
                {s.nodes.length === 0 && (
                  <tr>
                    <td colSpan={2}>No pod holds a device.</td>
                  </tr>
                )}
                {s.nodes.map((n) => (
                  <tr key={n.node}>
                    <td>{n.node}</td>
                    <td>{n.devices}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : (
        !stats.error && <p className="muted">Loading…</p>
      )}
      <ErrorNote error={inventory.error} />
      {inventory.data && (
        <div className="split">
          {(
            [
              ['Model', (d: Device) => d.model],
              ['Firmware', (d: Device) => d.firmwareVersion],
            ] as const
          ).map(([title, key]) => (
            <div className="scroll" key={title}>
              <table>
                <caption>
                  Per {title.toLowerCase()}
                  {partial && ` (first ${devices.length} devices)`}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">{title}</th>
                    <th scope="col">Devices</th>
                    <th scope="col">Online</th>
                  </tr>
                </thead>
                <tbody>
                  {tally(devices, key).map(([name, all, online]) => (
                    <tr key={name}>
                      <td>{name}</td>
                      <td>{all}</td>
                      <td>{online}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
