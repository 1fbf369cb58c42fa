import type { CreateRolloutInput, Patch, TargetPreview } from '@camfleet/contracts';
import { RolloutTarget, WINDOW_HINT } from '@camfleet/contracts/forms';
import { planLines } from '@camfleet/present';
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { errorMessage } from '../api.js';
import { ErrorNote, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { EMPTY_FORM, type Problems, type RolloutForm, readRolloutForm, targetOf } from '../rollout-form.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';

/** How long the target must stay unchanged before the server is asked for a preview. */
const PREVIEW_DEBOUNCE_MS = 400;

type SetField = <K extends keyof RolloutForm>(key: K, value: RolloutForm[K]) => void;

/** Everything `fleet rollout create` offers, with the server's preview of the target and a confirmation. */
export function NewRolloutPage() {
  const { api, canOperate } = useSession();
  const patches = useQuery(() => api.patch.list.query({ limit: 100 }), [api]);
  const [form, setForm] = useState<RolloutForm>(() => ({
    ...EMPTY_FORM,
    patchId: new URLSearchParams(window.location.search).get('patch') ?? '',
  }));
  const [problems, setProblems] = useState<Problems>({});
  const [review, setReview] = useState<{ input: CreateRolloutInput; preview: TargetPreview } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const set: SetField = (key, value) => {
    setForm((f) => ({ ...f, [key]: value }));
    setProblems((p) => ({ ...p, [key]: undefined, form: undefined }));
  };

  const toReview = async () => {
    setFailure(null);
    const read = readRolloutForm(form);
    if (!read.ok) {
      setProblems(read.problems);
      return;
    }
    try {
      setReview({
        input: read.input,
        preview: await api.rollout.preview.query({ target: read.input.target }),
      });
    } catch (error) {
      setFailure(errorMessage(error));
    }
  };
  const create = async (input: CreateRolloutInput) => {
    setFailure(null);
    try {
      const created = await api.rollout.create.mutate(input);
      navigate(`/rollouts/${encodeURIComponent(created.id)}`);
    } catch (error) {
      setFailure(errorMessage(error));
    }
  };

  if (!canOperate) return <p>Only an operator or admin token creates rollouts.</p>;
  const patch = patches.data?.find((p) => p.id === form.patchId) ?? null;
  return (
    <section aria-labelledby="new-rollout-title">
      <p className="crumbs">
        <Link to="/rollouts">Rollouts</Link> /
      </p>
      <h1 id="new-rollout-title">New rollout</h1>
      <ErrorNote error={patches.error} />
      {review ? (
        <Confirm
          patch={patch}
          review={review}
          failure={failure}
          onBack={() => setReview(null)}
          onCreate={() => create(review.input)}
        />
      ) : (
        <form
          className="rollout-form"
          aria-label="New rollout"
          onSubmit={(event) => {
            event.preventDefault();
            void toReview();
          }}
        >
          <TargetFields form={form} set={set} problems={problems} patches={patches.data ?? []} />
          <TargetPreviewPanel form={form} />
          <SettingsFields form={form} set={set} problems={problems} />
          {Object.values(problems).some(Boolean) && (
            <p role="alert" className="error">
              {problems.form
                ? showText(problems.form)
                : 'Some settings need a change: see the marked fields.'}
            </p>
          )}
          {failure && (
            <p role="alert" className="error">
              {showText(failure)}
            </p>
          )}
          <div className="buttons">
            <button type="submit">Review the rollout</button>
          </div>
        </form>
      )}
    </section>
  );
}

/** A labelled control with its problem, if any, read out with it. */
function Field({
  label,
  problem,
  hint,
  children,
}: {
  label: string;
  problem: string | undefined;
  hint?: string;
  children: (props: { id: string; 'aria-invalid'?: true; 'aria-describedby'?: string }) => ReactNode;
}) {
  const id = useId();
  const described = [problem ? `${id}-problem` : null, hint ? `${id}-hint` : null].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        ...(problem ? { 'aria-invalid': true as const } : {}),
        ...(described ? { 'aria-describedby': described } : {}),
      })}
      {hint && (
        <span id={`${id}-hint`} className="muted small">
          {hint}
        </span>
      )}
      {problem && (
        <span id={`${id}-problem`} className="error small">
          {showText(problem)}
        </span>
      )}
    </div>
  );
}

/** A text field of the form. */
function TextField({
  form,
  set,
  problems,
  name,
  label,
  hint,
  type = 'text',
}: {
  form: RolloutForm;
  set: SetField;
  problems: Problems;
  name: { [K in keyof RolloutForm]: RolloutForm[K] extends string ? K : never }[keyof RolloutForm];
  label: string;
  hint?: string;
  type?: 'text' | 'datetime-local';
}) {
  return (
    <Field label={label} problem={problems[name]} {...(hint ? { hint } : {})}>
      {(props) => (
        <input {...props} type={type} value={form[name]} onChange={(e) => set(name, e.target.value)} />
      )}
    </Field>
  );
}

/** A checkbox of the form. */
function Check({
  form,
  set,
  name,
  label,
}: {
  form: RolloutForm;
  set: SetField;
  name: 'countTimeouts' | 'snapshot' | 'supersede' | 'downloadAhead';
  label: string;
}) {
  return (
    <label className="check">
      <input type="checkbox" checked={form[name]} onChange={(e) => set(name, e.target.checked)} /> {label}
    </label>
  );
}

function TargetFields({
  form,
  set,
  problems,
  patches,
}: {
  form: RolloutForm;
  set: SetField;
  problems: Problems;
  patches: Patch[];
}) {
  return (
    <fieldset>
      <legend>Patch and target</legend>
      <Field label="Patch" problem={problems.patchId}>
        {(props) => (
          <select {...props} value={form.patchId} onChange={(e) => set('patchId', e.target.value)}>
            <option value="">Choose a patch…</option>
            {patches.map((p) => (
              <option key={p.id} value={p.id}>
                {showText(p.name)} {showText(p.version)} ({p.id}, {formatTime(p.createdAt)})
              </option>
            ))}
          </select>
        )}
      </Field>
      <div role="radiogroup" aria-label="Target" className="inline">
        {(['all', 'selector', 'devices'] as const).map((kind) => (
          <label key={kind} className="check">
            <input
              type="radio"
              name="target-kind"
              checked={form.targetKind === kind}
              onChange={() => set('targetKind', kind)}
            />{' '}
            {kind === 'all'
              ? 'All devices'
              : kind === 'selector'
                ? 'Devices matching a selector'
                : 'A list of devices'}
          </label>
        ))}
      </div>
      {form.targetKind === 'selector' && (
        <TextField
          form={form}
          set={set}
          problems={problems}
          name="selector"
          label="Selector"
          hint="key=value, key!=value, key in (a,b), key notin (a,b), key, !key; a comma means and (model is a key too)"
        />
      )}
      {form.targetKind === 'devices' && (
        <Field label="Device ids (commas, spaces or lines between them)" problem={problems.devices}>
          {(props) => (
            <textarea
              {...props}
              rows={3}
              value={form.devices}
              onChange={(e) => set('devices', e.target.value)}
            />
          )}
        </Field>
      )}
    </fieldset>
  );
}

/** The server's preview of the target, asked again whenever the target stays changed for a moment. */
function TargetPreviewPanel({ form }: { form: RolloutForm }) {
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
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Model</th>
                <th scope="col">Firmware</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
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

function SettingsFields({ form, set, problems }: { form: RolloutForm; set: SetField; problems: Problems }) {
  const text = { form, set, problems };
  const noThreshold = form.failureThreshold.trim() === '';
  return (
    <>
      <fieldset>
        <legend>Waves</legend>
        <TextField
          {...text}
          name="waves"
          label="Waves (cumulative %)"
          hint="e.g. 1,10,100; empty: one wave"
        />
        <Field label="Next wave opens" problem={problems.advance}>
          {(props) => (
            <select
              {...props}
              value={form.advance}
              onChange={(e) => set('advance', e.target.value as RolloutForm['advance'])}
            >
              <option value="auto">by itself, at the success threshold</option>
              <option value="manual">when an operator advances it</option>
            </select>
          )}
        </Field>
        <TextField {...text} name="successThreshold" label="Success threshold (%)" hint="empty: 100%" />
        <TextField {...text} name="soak" label="Soak after a wave" hint="e.g. 10m; empty: none" />
      </fieldset>
      <fieldset>
        <legend>Pace</legend>
        <TextField {...text} name="maxInFlight" label="At most in flight" hint="empty: no limit" />
        <TextField {...text} name="maxPerMinute" label="At most offers a minute" hint="empty: no limit" />
        <TextField {...text} name="rampStart" label="Ramp: offers a minute to start" />
        <TextField {...text} name="rampFactor" label="Ramp: multiply by" />
        <TextField {...text} name="rampEvery" label="Ramp: every so many successes" />
      </fieldset>
      <fieldset>
        <legend>Failures</legend>
        <TextField
          {...text}
          name="failureThreshold"
          label="Failure threshold (%)"
          hint="empty: failures never stop it"
        />
        <fieldset disabled={noThreshold} className="plain">
          <TextField
            {...text}
            name="minSample"
            label="Finished deliveries before it applies"
            hint="empty: 10"
          />
          <Field label="At the threshold" problem={problems.onFailure}>
            {(props) => (
              <select
                {...props}
                value={form.onFailure}
                onChange={(e) => set('onFailure', e.target.value as RolloutForm['onFailure'])}
              >
                <option value="pause">pause</option>
                <option value="abort">abort</option>
              </select>
            )}
          </Field>
          <Check form={form} set={set} name="countTimeouts" label="Count timed-out attempts as failures" />
        </fieldset>
      </fieldset>
      <details>
        <summary>Attempts, schedule, windows and more</summary>
        <fieldset>
          <legend>Attempts</legend>
          <TextField {...text} name="ackTimeout" label="A device reports within" hint="empty: 60s" />
          <TextField {...text} name="maxAttempts" label="Attempts per device" hint="empty: 5" />
          <TextField {...text} name="retryBase" label="First retry after" hint="empty: 2s" />
          <TextField {...text} name="retryMax" label="Longest retry wait" hint="empty: 60s" />
        </fieldset>
        <fieldset>
          <legend>Schedule</legend>
          <TextField {...text} name="startAt" type="datetime-local" label="Start at (your time)" />
          <TextField {...text} name="endBy" type="datetime-local" label="End by (your time)" />
          <Field label="At the end" problem={problems.atEnd}>
            {(props) => (
              <select
                {...props}
                value={form.atEnd}
                onChange={(e) => set('atEnd', e.target.value as RolloutForm['atEnd'])}
              >
                <option value="cancel">cancel what is open</option>
                <option value="finish">start nothing new, let what is in flight finish</option>
              </select>
            )}
          </Field>
        </fieldset>
        <fieldset>
          <legend>Maintenance windows</legend>
          <Field
            label="Windows, one a line (device-local time)"
            problem={problems.windows}
            hint={WINDOW_HINT}
          >
            {(props) => (
              <textarea
                {...props}
                rows={2}
                value={form.windows}
                onChange={(e) => set('windows', e.target.value)}
              />
            )}
          </Field>
          <TextField
            {...text}
            name="windowZone"
            label="Zone of devices without a tz label"
            hint="IANA, e.g. Europe/Berlin; empty: UTC"
          />
          <Check form={form} set={set} name="downloadAhead" label="Download ahead of the window" />
        </fieldset>
        <fieldset>
          <legend>Options</legend>
          <Check
            form={form}
            set={set}
            name="snapshot"
            label="Snapshot: devices that match later do not join"
          />
          <Check form={form} set={set} name="supersede" label="Cancel queued deliveries of older rollouts" />
        </fieldset>
      </details>
    </>
  );
}

/** What will happen, in the words `rollout create --dry-run` uses, before anything is created. */
function Confirm({
  patch,
  review,
  failure,
  onBack,
  onCreate,
}: {
  patch: Patch | null;
  review: { input: CreateRolloutInput; preview: TargetPreview };
  failure: string | null;
  onBack: () => void;
  onCreate: () => Promise<void>;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const [creating, setCreating] = useState(false);
  const lines = planLines(review.input, review.preview, { at: (ms) => formatTime(ms) });
  return (
    <section className="summary confirm-plan" aria-labelledby="confirm-title">
      <h2 id="confirm-title" ref={heading} tabIndex={-1}>
        Roll out {patch ? `${showText(patch.name)} ${showText(patch.version)}` : review.input.patchId}?
      </h2>
      <p data-testid="plan-headline">
        <strong>{lines[0]}</strong>
      </p>
      <ul className="plan-list" data-testid="plan">
        {lines.slice(1).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      {failure && (
        <p role="alert" className="error">
          Not created: {showText(failure)}
        </p>
      )}
      <div className="buttons">
        <button
          type="button"
          disabled={creating}
          onClick={() => {
            setCreating(true);
            void onCreate().finally(() => setCreating(false));
          }}
        >
          Create the rollout
        </button>
        <button type="button" className="secondary" onClick={onBack}>
          Change settings
        </button>
      </div>
    </section>
  );
}
