import type { RolloutStatus } from '@camfleet/contracts';
import { ErrorNote, Legend, ProgressBar } from '../components.js';
import { formatAgo, showText } from '../format.js';
import { useLiveValue } from '../live.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

export function RolloutsPage() {
  const { api, canOperate } = useSession();
  const rollouts = useLiveValue<RolloutStatus[]>(
    (handlers) => api.rollout.watchList.subscribe({ limit: 50, intervalMs: 1_000 }, handlers),
    [api],
  );
  const list = rollouts.data ?? [];
  return (
    <section aria-labelledby="rollouts-title">
      <h1 id="rollouts-title">Rollouts</h1>
      <p className="muted">The newest 50, live. Open one for its waves, gate and events.</p>
      {canOperate && (
        <p>
          <Link to="/rollouts/new">New rollout…</Link>
        </p>
      )}
      <ErrorNote error={rollouts.error} />
      <Legend />
      {rollouts.data && list.length === 0 && <p>No rollouts yet.</p>}
      {list.length > 0 && (
        <div className="scroll">
          <table className="rollouts">
            <caption className="visually-hidden">Rollouts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Rollout</th>
                <th scope="col">Patch</th>
                <th scope="col">Status</th>
                <th scope="col" className="wide">
                  Progress
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id} data-rollout={r.id}>
                  <td>
                    <Link to={`/rollouts/${encodeURIComponent(r.id)}`}>{r.id}</Link>
                  </td>
                  <td>
                    {showText(r.patch.name)} {showText(r.patch.version)}
                  </td>
                  <td>
                    <span className={`status status-${r.status}`}>{r.status}</span>
                  </td>
                  <td className="wide">
                    <ProgressBar counts={r.counts} targeted={r.targeted} label={`Progress of ${r.id}`} />
                    <span className="muted small">
                      {r.counts.succeeded}/{r.targeted} succeeded
                      {r.counts.failed > 0 && `, ${r.counts.failed} failed`}
                      {r.waves.length > 1 && ` · wave ${r.wave + 1} of ${r.waves.length}`}
                    </span>
                    {r.waves.length > 1 && (
                      <ol className="wave-bars" aria-label={`Waves of ${r.id}`}>
                        {r.waveCounts.map((counts, i) => (
                          // biome-ignore lint/suspicious/noArrayIndexKey: waves are positional
                          <li key={i}>
                            <ProgressBar
                              counts={counts}
                              targeted={Object.values(counts).reduce((a, b) => a + b, 0)}
                              label={`Wave ${i + 1} of ${r.id}`}
                            />
                          </li>
                        ))}
                      </ol>
                    )}
                  </td>
                  <td title={new Date(r.createdAt).toLocaleString()}>{formatAgo(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
