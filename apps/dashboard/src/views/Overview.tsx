import type { FleetStats } from '@camfleet/contracts';
import { ColumnHeads, ErrorNote, useQuery } from '../components.js';
import { useLiveValue } from '../live.js';
import { useSession } from '../session.js';

export function OverviewPage() {
  const { api } = useSession();
  // The pushed figures say when something changed; every figure shown comes from one read of the
  // fleet (fleet.overview), so they add up.
  const changes = useLiveValue<FleetStats>(
    (handlers) => api.fleet.watch.subscribe({ intervalMs: 1_000 }, handlers),
    [api],
  );
  const overview = useQuery(() => api.fleet.overview.query(), [api, changes.data]);
  const o = overview.data;
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Fleet overview</h1>
      <ErrorNote error={changes.error ?? overview.error} />
      {o ? (
        <>
          <dl className="cards" aria-label="Fleet totals">
            <div className="card">
              <dt>Devices</dt>
              <dd data-testid="stat-devices">{o.devices}</dd>
            </div>
            <div className="card ok">
              <dt>Online</dt>
              <dd data-testid="stat-online">{o.online}</dd>
            </div>
            <div className="card">
              <dt>Offline</dt>
              <dd data-testid="stat-offline">{Math.max(0, o.devices - o.online)}</dd>
            </div>
            <div className="card">
              <dt>Patches</dt>
              <dd>{o.patches}</dd>
            </div>
            <div className="card">
              <dt>Rollouts</dt>
              <dd>{o.rollouts}</dd>
            </div>
          </dl>
          <div className="scroll">
            <table data-testid="per-pod">
              <caption>Devices connected per pod</caption>
              <ColumnHeads names={['Pod instance', 'Devices']} />
              <tbody>
                {o.perPod.length === 0 && (
                  <tr>
                    <td colSpan={2}>No pod holds a device.</td>
                  </tr>
                )}
                {o.perPod.map((n) => (
                  <tr key={n.node}>
                    <td>{n.node}</td>
                    <td>{n.devices}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="split">
            {(
              [
                ['Model', o.perModel],
                ['Firmware', o.perFirmware],
              ] as const
            ).map(([title, rows]) => (
              <div className="scroll" key={title}>
                <table data-testid={`per-${title.toLowerCase()}`}>
                  <caption>
                    Per {title.toLowerCase()}
                    {o.sampled !== null && ` (first ${o.sampled} devices)`}
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">{title}</th>
                      <th scope="col">Devices</th>
                      <th scope="col">Online</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((row) => (
                      <tr key={row.name}>
                        <td>{row.name}</td>
                        <td>{row.devices}</td>
                        <td>{row.online}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
          </div>
        </>
      ) : (
        !changes.error && !overview.error && <p className="muted">Loading…</p>
      )}
    </section>
  );
}
