import type { CreateRolloutInput, Patch, TargetPreview } from '@camfleet/contracts';
import { WINDOW_HINT } from '@camfleet/contracts/forms';
import { planLines } from '@camfleet/present';
import { useEffect, useRef, useState } from 'react';
import { errorMessage } from '../api.js';
import { ErrorNote, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { EMPTY_FORM, type Problems, type RolloutForm, readRolloutForm } from '../rollout-form.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';
import { Check, Choice, Field, type SetField, TextField } from './rollout-fields.js';
import { TargetPreviewPanel } from './TargetPreview.js';

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
        <Choice
          {...text}
          name="advance"
          label="Next wave opens"
          options={[
            ['auto', 'by itself, at the success threshold'],
            ['manual', 'when an operator advances it'],
          ]}
        />
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
          <Choice
            {...text}
            name="onFailure"
            label="At the threshold"
            options={[
              ['pause', 'pause'],
              ['abort', 'abort'],
            ]}
          />
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
          <Choice
            {...text}
            name="atEnd"
            label="At the end"
            options={[
              ['cancel', 'cancel what is open'],
              ['finish', 'start nothing new, let what is in flight finish'],
            ]}
          />
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
