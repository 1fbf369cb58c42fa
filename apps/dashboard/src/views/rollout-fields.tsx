import { type ReactNode, useId } from 'react';
import { showText } from '../format.js';
import type { Problems, RolloutForm } from '../rollout-form.js';

// The new-rollout form's controls: each labelled, its problem (if any) read out with it.

/** Sets one field of the form (and clears its problem). */
export type SetField = <K extends keyof RolloutForm>(key: K, value: RolloutForm[K]) => void;

/** A labelled control with its problem, if any, read out with it. */
export function Field({
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
export function TextField({
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

type ChoiceName = 'advance' | 'onFailure' | 'atEnd';

/** A choice of the form, as a select: each option its value and its words. */
export function Choice<K extends ChoiceName>({
  form,
  set,
  problems,
  name,
  label,
  options,
}: {
  form: RolloutForm;
  set: SetField;
  problems: Problems;
  name: K;
  label: string;
  options: ReadonlyArray<readonly [RolloutForm[K], string]>;
}) {
  return (
    <Field label={label} problem={problems[name]}>
      {(props) => (
        <select {...props} value={form[name]} onChange={(e) => set(name, e.target.value as RolloutForm[K])}>
          {options.map(([value, words]) => (
            <option key={value} value={value}>
              {words}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A checkbox of the form. */
export function Check({
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
