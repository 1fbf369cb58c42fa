import type { TargetPreview } from '@camfleet/contracts';
import { RolloutTarget } from '@camfleet/contracts/forms';
import { useEffect, useRef, useState } from 'react';
import { ColumnHeads, ErrorNote } from '../components.js';
import { showText } from '../format.js';
import { type RolloutForm, targetOf } from '../rollout-form.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

/** How long the target must stay unchanged before the server is asked for a preview. */
const PREVIEW_DEBOUNCE_MS = 400;

/** The server's preview of the target, asked again whenever the target stays changed for a moment. */
export function TargetPreviewPanel({ form }: { form: RolloutForm }) {
  const { api } = useSession();
  const target = targetOf(form);
  const key = JSON.stringify(target);
  const [state, setState] = useState<
    { kind: 'waiting' } | { kind: 'invalid'; problem: string } | { kind: 'shown'; preview: TargetPreview }
  >({ kind: 'waiting' });
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(key);
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed by the target's JSON
  useEffect(() => {
    latest.current = key;
    const checked = RolloutTarget.safeParse(target);
    if (!checked.success) {
      setState({ kind: 'invalid', problem: checked.error.issues[0]?.message ?? 'not a target' });
      return;
    }
    setState((s) => (s.kind === 'shown' ? s : { kind: 'waiting' }));
    const timer = setTimeout(() => {
      api.rollout.preview.query({ target: checked.data }).then(
        (preview) => {
          if (latest.current !== key) return;
          setError(null);
          setState({ kind: 'shown', preview });
        },
        (err: unknown) => latest.current === key && setError(err),
      );
    }, PREVIEW_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [api, key]);

  return (
    <section className="summary preview" aria-labelledby="preview-title" aria-live="polite">
      <h2 id="preview-title">Who it reaches now</h2>
      <ErrorNote error={error} />
      {state.kind === 'waiting' && <p className="muted">Asking the server…</p>}
      {state.kind === 'invalid' && <p className="muted">{showText(state.problem)}</p>}
      {state.kind === 'shown' && <PreviewFigures preview={state.preview} />}
    </section>
  );
}

function PreviewFigures({ preview }: { preview: TargetPreview }) {
  const about = preview.exact ? '' : 'about ';
  return (
    <>
      <p data-testid="preview-matched">
        {about}
        {preview.matched.toLocaleString('en-US')} devices match: {preview.online.toLocaleString('en-US')}{' '}
        online, {preview.offline.toLocaleString('en-US')} offline
      </p>
      {!preview.exact && (
        <p className="muted small">
          Estimated from {preview.scanned.toLocaleString('en-US')} of {preview.fleet.toLocaleString('en-US')}{' '}
          devices.
        </p>
      )}
      {preview.unknown && preview.unknown.count > 0 && (
        <p className="error">
          No device has {preview.unknown.count === 1 ? 'this id' : `these ${preview.unknown.count} ids`}:{' '}
          {preview.unknown.ids.map(showText).join(', ')}
          {preview.unknown.count > preview.unknown.ids.length ? ' …' : ''}
        </p>
      )}
      {preview.sample.length > 0 && (
        <div className="scroll">
          <table data-testid="preview-sample">
            <caption>
              {preview.sample.length === preview.matched ? 'The devices' : `${preview.sample.length} of them`}
              , with the firmware they run
            </caption>
            <ColumnHeads names={['Device', 'Model', 'Firmware', 'Status']} />
            <tbody>
              {preview.sample.map((d) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/devices/${encodeURIComponent(d.id)}`}>{showText(d.id)}</Link>
                  </td>
                  <td>{showText(d.model)}</td>
                  <td>{showText(d.firmwareVersion)}</td>
                  <td className={d.online ? 'online' : 'offline'}>{d.online ? 'online' : 'offline'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {preview.perFirmware.length > 0 && (
        <p className="small">
          Firmware now:{' '}
          {preview.perFirmware
            .map((row) => `${showText(row.name)} × ${row.devices.toLocaleString('en-US')}`)
            .join(', ')}
        </p>
      )}
    </>
  );
}
