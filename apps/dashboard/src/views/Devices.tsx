import type { Device, FleetStats } from '@camfleet/contracts';
import { useId, useState } from 'react';
import { ColumnHeads, ErrorNote, useQuery } from '../components.js';
import { formatAgo, showText } from '../format.js';
import { useLiveValue } from '../live.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

const PAGE = 50;

function matches(device: Device, query: string): boolean {
  if (!query) return true;
  const q = query.toLowerCase();
  return [
    device.id,
    device.model,
    device.firmwareVersion,
    device.node ?? '',
    ...Object.entries(device.labels).map(([k, v]) => `${k}=${v}`),
  ].some((field) => field.toLowerCase().includes(q));
}

/** The inventory, a page at a time (cursor pagination), with a filter over the page shown. */
export function DevicesPage() {
  const { api } = useSession();
  // Cursors of the pages before the current one: "Previous" pops, "Next" pushes.
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [onlineOnly, setOnlineOnly] = useState(false);
  const [query, setQuery] = useState('');
  // The label selector in force (applied on submit: the server filters, across every page).
  const [selector, setSelector] = useState('');
  const [selectorDraft, setSelectorDraft] = useState('');
  const selectorId = useId();
  const cursor = cursors[cursors.length - 1] ?? null;
  // Read again whenever the pushed fleet figures change (a device came, left or moved pods).
  const figures = useLiveValue<FleetStats>(
    (handlers) => api.fleet.watch.subscribe({ intervalMs: 2_000 }, handlers),
    [api],
  );
  const page = useQuery(
    () =>
      api.devices.list.query({
        limit: PAGE,
        cursor,
        ...(onlineOnly ? { online: true } : {}),
        ...(selector ? { selector } : {}),
      }),
    [api, cursor, onlineOnly, selector, figures.data],
  );
  const searchId = useId();
  const onlineId = useId();
  const shown = (page.data?.devices ?? []).filter((d) => matches(d, query.trim()));
  const nextCursor = page.data?.nextCursor ?? null;
  return (
    <section aria-labelledby="devices-title">
      <h1 id="devices-title">Devices</h1>
      <form
        className="inline"
        aria-label="Label filter"
        onSubmit={(e) => {
          e.preventDefault();
          setSelector(selectorDraft.trim());
          setCursors([null]);
        }}
      >
        <label htmlFor={selectorId}>Labels</label>
        <input
          id={selectorId}
          value={selectorDraft}
          placeholder="site=north, model in (cam-x)"
          onChange={(e) => setSelectorDraft(e.target.value)}
        />
        <button type="submit">Apply</button>
      </form>
      <search className="inline">
        <label htmlFor={searchId}>Filter this page</label>
        <input
          id={searchId}
          type="search"
          value={query}
          placeholder="id, model, firmware, label…"
          onChange={(e) => setQuery(e.target.value)}
        />
        <input
          id={onlineId}
          type="checkbox"
          checked={onlineOnly}
          onChange={(e) => {
            setOnlineOnly(e.target.checked);
            setCursors([null]);
          }}
        />
        <label htmlFor={onlineId}>Online only</label>
      </search>
      <ErrorNote error={page.error} />
      <div className="scroll">
        <table>
          <caption>
            Page {cursors.length}
            {page.data && `: ${shown.length} of ${page.data.devices.length} shown`}
          </caption>
          <ColumnHeads names={['Device', 'Model', 'Firmware', 'Status', 'Labels', 'Last seen']} />
          <tbody>
            {shown.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link to={`/devices/${encodeURIComponent(d.id)}`}>{d.id}</Link>
                </td>
                <td>{showText(d.model)}</td>
                <td>{showText(d.firmwareVersion)}</td>
                <td>
                  <span className={d.online ? 'online' : 'offline'}>{d.online ? 'online' : 'offline'}</span>
                </td>
                <td className="small">
                  {showText(
                    Object.entries(d.labels)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', '),
                  )}
                </td>
                <td title={new Date(d.lastSeenAt).toLocaleString()}>{formatAgo(d.lastSeenAt)}</td>
              </tr>
            ))}
            {page.data && shown.length === 0 && (
              <tr>
                <td colSpan={6}>No device on this page matches.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button
          type="button"
          disabled={cursors.length === 1}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Previous page
        </button>
        <button
          type="button"
          disabled={nextCursor === null}
          onClick={() => nextCursor !== null && setCursors((c) => [...c, nextCursor])}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
