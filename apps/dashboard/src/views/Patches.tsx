import type { Patch, Signature } from '@camfleet/contracts';
import { PublishPatchInput } from '@camfleet/contracts/forms';
import { formatBytes } from '@camfleet/present';
import { type FormEvent, useId, useRef, useState } from 'react';
import { errorMessage } from '../api.js';
import { ErrorNote, Scroll, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { digestOf, signManifestInBrowser, uploadFile } from '../publish.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

/** Patches, newest first, and (operators) publishing one from a file, as `fleet patch publish FILE` does. */
export function PatchesPage() {
  const { api, canOperate } = useSession();
  const patches = useQuery(() => api.patch.list.query({ limit: 50 }), [api]);
  return (
    <section aria-labelledby="patches-title">
      <h1 id="patches-title">Patches</h1>
      {canOperate && <PublishForm onPublished={patches.reload} />}
      <ErrorNote error={patches.error} />
      {patches.data && <PatchTable patches={patches.data} canOperate={canOperate} />}
    </section>
  );
}

function PatchTable({ patches, canOperate }: { patches: Patch[]; canOperate: boolean }) {
  if (patches.length === 0) return <p>No patches yet.</p>;
  return (
    <Scroll label="Patches">
      <table data-testid="patches">
        <caption>Published patches, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Patch</th>
            <th scope="col">Artifact</th>
            <th scope="col">Signed by key</th>
            <th scope="col">Published</th>
            {canOperate && <th scope="col">Roll out</th>}
          </tr>
        </thead>
        <tbody>
          {patches.map((p) => (
            <tr key={p.id} data-patch={p.id}>
              <td>
                {showText(p.name)} {showText(p.version)} <code className="small">{p.id}</code>
              </td>
              <td>
                {p.artifact ? (
                  <>
                    {formatBytes(p.artifact.size)}{' '}
                    <code className="small">{p.artifact.sha256.slice(0, 12)}…</code>
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td>{p.signature ? <code>{p.signature.keyId}</code> : 'unsigned'}</td>
              <td>
                {formatTime(p.createdAt)} by {showText(p.createdBy)}
              </td>
              {canOperate && (
                <td>
                  <Link to={`/rollouts/new?patch=${encodeURIComponent(p.id)}`}>
                    New rollout of {showText(p.name)} {showText(p.version)}
                  </Link>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </Scroll>
  );
}

type Step =
  | { kind: 'idle' }
  | { kind: 'hashing'; done: number; of: number }
  | { kind: 'uploading'; done: number; of: number }
  | { kind: 'publishing' };

/** Field problems in the CLI's words (`PublishPatchInput`), keyed by field. */
function problemsOf(input: unknown): Record<string, string> {
  const parsed = PublishPatchInput.safeParse(input);
  if (parsed.success) return {};
  const problems: Record<string, string> = {};
  for (const issue of parsed.error.issues) problems[String(issue.path[0] ?? 'form')] ??= issue.message;
  return problems;
}

function PublishForm({ onPublished }: { onPublished: () => void }) {
  const { api, token } = useSession();
  const [name, setName] = useState('');
  const [version, setVersion] = useState('');
  const [notes, setNotes] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [keyFile, setKeyFile] = useState<File | null>(null);
  const [step, setStep] = useState<Step>({ kind: 'idle' });
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [published, setPublished] = useState<{ patch: Patch; created: boolean } | null>(null);
  const abort = useRef<AbortController | null>(null);
  const ids = { name: useId(), version: useId(), notes: useId(), file: useId(), key: useId() };

  const publish = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    setPublished(null);
    const base = { name: name.trim(), version: version.trim(), notes };
    const found = { ...problemsOf(base), ...(file ? {} : { file: 'choose the file to publish' }) };
    setProblems(found);
    if (!file || Object.keys(found).length > 0) return;
    const controller = new AbortController();
    abort.current = controller;
    try {
      setStep({ kind: 'hashing', done: 0, of: file.size });
      const digest = await digestOf(
        file,
        (done) => setStep({ kind: 'hashing', done, of: file.size }),
        controller.signal,
      );
      setStep({ kind: 'uploading', done: 0, of: file.size });
      const stored = await uploadFile({
        file,
        sha256: digest,
        token,
        onProgress: (done) => setStep({ kind: 'uploading', done, of: file.size }),
        signal: controller.signal,
      });
      setStep({ kind: 'publishing' });
      const artifact = { sha256: stored.sha256, size: stored.size };
      const signature: Signature | null = keyFile
        ? await signManifestInBrowser(
            { name: base.name, version: base.version, ...artifact },
            await keyFile.text(),
          )
        : null;
      const patch = await api.patch.publish.mutate({
        ...base,
        artifact,
        ...(signature ? { signature } : {}),
      });
      setPublished({ patch, created: stored.created });
      onPublished();
    } catch (error) {
      setFailure(controller.signal.aborted ? 'canceled: nothing was published' : errorMessage(error));
    } finally {
      abort.current = null;
      setStep({ kind: 'idle' });
    }
  };

  const busy = step.kind !== 'idle';
  const invalid = (field: string) =>
    problems[field] ? { 'aria-invalid': true, 'aria-describedby': `${field}-problem` } : {};
  return (
    <form className="actions publish" onSubmit={(event) => void publish(event)} aria-label="Publish a patch">
      <h2>Publish a patch</h2>
      <label htmlFor={ids.file}>Artifact file</label>
      <input
        id={ids.file}
        type="file"
        required
        onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        {...invalid('file')}
      />
      <FieldProblem field="file" problems={problems} />
      <label htmlFor={ids.name}>Name</label>
      <input
        id={ids.name}
        value={name}
        placeholder="cam-firmware"
        onChange={(e) => setName(e.target.value)}
        {...invalid('name')}
      />
      <FieldProblem field="name" problems={problems} />
      <label htmlFor={ids.version}>Version</label>
      <input
        id={ids.version}
        value={version}
        placeholder="1.5.0"
        onChange={(e) => setVersion(e.target.value)}
        {...invalid('version')}
      />
      <FieldProblem field="version" problems={problems} />
      <label htmlFor={ids.notes}>Release notes (optional)</label>
      <textarea
        id={ids.notes}
        value={notes}
        rows={2}
        onChange={(e) => setNotes(e.target.value)}
        {...invalid('notes')}
      />
      <FieldProblem field="notes" problems={problems} />
      <label htmlFor={ids.key}>
        Sign with an Ed25519 private key (optional, .key.pem; it stays in this page)
      </label>
      <input
        id={ids.key}
        type="file"
        accept=".pem"
        onChange={(e) => setKeyFile(e.target.files?.[0] ?? null)}
      />
      <div className="buttons">
        <button type="submit" disabled={busy}>
          Upload and publish
        </button>
        {busy && (
          <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
            Cancel upload
          </button>
        )}
      </div>
      <StepProgress step={step} />
      {failure && (
        <p role="alert" className="error">
          Not published: {showText(failure)}
        </p>
      )}
      {published && <Published patch={published.patch} created={published.created} />}
    </form>
  );
}

function FieldProblem({ field, problems }: { field: string; problems: Record<string, string> }) {
  const problem = problems[field];
  if (!problem) return null;
  return (
    <span id={`${field}-problem`} className="error small">
      {showText(problem)}
    </span>
  );
}

function StepProgress({ step }: { step: Step }) {
  if (step.kind === 'idle') return null;
  if (step.kind === 'publishing') return <p role="status">Publishing…</p>;
  const label = step.kind === 'hashing' ? 'Computing SHA-256' : 'Uploading';
  return (
    <p className="inline">
      <label>
        {label}{' '}
        <progress data-testid={`${step.kind}-progress`} max={step.of} value={step.done}>
          {formatBytes(step.done)}
        </progress>
      </label>
      <span className="muted small" aria-live="polite">
        {formatBytes(step.done)} of {formatBytes(step.of)}
      </span>
    </p>
  );
}

function Published({ patch, created }: { patch: Patch; created: boolean }) {
  return (
    <div role="status" className="ok" data-testid="published">
      <p>
        Published {showText(patch.name)} {showText(patch.version)} as <code>{patch.id}</code>
        {created ? '' : ' (the server had these bytes already)'}.
      </p>
      {patch.artifact && (
        <p className="small">
          {formatBytes(patch.artifact.size)}, sha256{' '}
          <code data-testid="published-sha256">{patch.artifact.sha256}</code>
        </p>
      )}
      <p className="small">
        {patch.signature ? (
          <>
            signed by key <code data-testid="published-key">{patch.signature.keyId}</code>
          </>
        ) : (
          'unsigned'
        )}
      </p>
      <p>
        <Link to={`/rollouts/new?patch=${encodeURIComponent(patch.id)}`}>Roll it out…</Link>
      </p>
    </div>
  );
}
