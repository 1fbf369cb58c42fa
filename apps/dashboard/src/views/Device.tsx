import type { FleetEvent } from '@camfleet/contracts';
import { ColumnHeads, ErrorNote, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { useLive } from '../live.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { DeviceTimeline } from './DeviceTimeline.js';

export function DevicePage({ deviceId }: { deviceId: string }) {
  const { api } = useSession();
  const detail = useQuery(() => api.devices.get.query({ deviceId }), [api, deviceId]);
  // Its history changes with its deliveries: read it again on each event about this device.
  useLive<{ data: FleetEvent }>(
    (handlers) => api.events.follow.subscribe({}, handlers),
    (tracked) => {
      if (tracked.data.kind === 'delivery' && tracked.data.deviceId === deviceId) detail.reload();
    },
    [api, deviceId],
  );
  const d = detail.data;
  return (
    <section aria-labelledby="device-title">
      <p className="crumbs">
        <Link to="/devices">Devices</Link> /
      </p>
      <h1 id="device-title">
        Device <code>{deviceId}</code>
      </h1>
      <ErrorNote error={detail.error} />
      {d && (
        <>
          <dl className="settings">
            <dt>Status</dt>
            <dd>
              <span className={d.device.online ? 'online' : 'offline'}>
                {d.device.online ? 'online' : 'offline'}
              </span>
              {d.device.node && ` on ${showText(d.device.node)}`}
            </dd>
            <dt>Model</dt>
            <dd>{showText(d.device.model)}</dd>
            <dt>Firmware</dt>
            <dd>{showText(d.device.firmwareVersion)}</dd>
            <dt>Labels</dt>
            <dd>
              {showText(
                Object.entries(d.device.labels)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', '),
              ) || '—'}
            </dd>
            <dt>First seen</dt>
            <dd>{formatTime(d.device.firstSeenAt)}</dd>
            <dt>Last seen</dt>
            <dd>{formatTime(d.device.lastSeenAt)}</dd>
          </dl>
          <DeviceTimeline deliveries={d.deliveries} history={d.history} />
          <div className="scroll">
            <table>
              <caption>Deliveries</caption>
              <ColumnHeads names={['Rollout', 'State', 'Attempt', 'Failures', 'Last error', 'Updated']} />
              <tbody>
                {d.deliveries.length === 0 && (
                  <tr>
                    <td colSpan={6}>No deliveries.</td>
                  </tr>
                )}
                {d.deliveries.map((delivery) => (
                  <tr key={delivery.deliveryId}>
                    <td>
                      <Link to={`/rollouts/${encodeURIComponent(delivery.rolloutId)}`}>
                        {delivery.rolloutId}
                      </Link>
                    </td>
                    <td>
                      <span className={`state state-${delivery.state}`}>{delivery.state}</span>
                    </td>
                    <td>{delivery.attempt}</td>
                    <td>
                      {delivery.failures}/{delivery.maxAttempts}
                    </td>
                    <td>{delivery.lastError !== null ? showText(delivery.lastError) : '—'}</td>
                    <td>{formatTime(delivery.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="scroll">
            <table>
              <caption>History (newest first)</caption>
              <ColumnHeads names={['When', 'Rollout', 'Attempt', 'Change', 'Error']} />
              <tbody>
                {d.history.map((h, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: history entries have no id
                  <tr key={i}>
                    <td>{formatTime(h.at)}</td>
                    <td>
                      <Link to={`/rollouts/${encodeURIComponent(h.rolloutId)}`}>{h.rolloutId}</Link>
                    </td>
                    <td>{h.attempt}</td>
                    <td>
                      {h.from ?? 'new'} → {h.to}
                    </td>
                    <td>{h.error !== null ? showText(h.error) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
