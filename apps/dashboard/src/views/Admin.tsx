import type { AdminRole } from '@camfleet/contracts/roles';
import { type FormEvent, useId, useState } from 'react';
import { errorMessage } from '../api.js';
import { ErrorNote, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { useSession } from '../session.js';

const DAY_MS = 86_400_000;
const ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

type Note = { ok: boolean; text: string } | null;

/** Admins only: runtime admin tokens, enrollment tokens and the audit log (as the CLI's `token`, `enroll-token`, `audit`). */
export function AdminPage() {
  const { role } = useSession();
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Administration</h1>
      {role === 'admin' ? <AdminPanels /> : <p>Only an admin token sees tokens and the audit log.</p>}
    </section>
  );
}

function AdminPanels() {
  return (
    <>
      <AdminTokens />
      <EnrollTokens />
      <AuditLog />
    </>
  );
}

/** "90" days as a lifetime in ms; empty: until revoked. */
function lifetimeOf(days: string): number | null {
  return days.trim() === '' ? null : Math.round(Number(days) * DAY_MS);
}

/** The secret of a token just made: shown this once, never stored by the page. */
function Secret({ label, secret }: { label: string; secret: string }) {
  return (
    <p className="ok" role="status">
      {label}: <code data-testid="new-secret">{secret}</code> (shown once: copy it now)
    </p>
  );
}

function AdminTokens() {
  const { api } = useSession();
  const tokens = useQuery(() => api.tokens.list.query(), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<AdminRole>('operator');
  const [days, setDays] = useState('90');
  const [note, setNote] = useState<Note>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const ids = { name: useId(), role: useId(), days: useId() };

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setNote(null);
    setSecret(null);
    try {
      const issued = await api.tokens.create.mutate({
        name: name.trim(),
        role,
        expiresInMs: lifetimeOf(days),
      });
      setSecret(issued.token);
      setName('');
      tokens.reload();
    } catch (error) {
      setNote({ ok: false, text: `not created: ${errorMessage(error)}` });
    }
  };
  const revoke = async (id: string, label: string) => {
    try {
      await api.tokens.revoke.mutate({ id });
      setNote({ ok: true, text: `${label} revoked` });
      tokens.reload();
    } catch (error) {
      setNote({ ok: false, text: `not revoked: ${errorMessage(error)}` });
    }
  };

  return (
    <>
      <h2>Admin tokens</h2>
      <form className="actions" onSubmit={(event) => void create(event)} aria-label="New admin token">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} required maxLength={64} onChange={(e) => setName(e.target.value)} />
        <label htmlFor={ids.role}>Role</label>
        <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value as AdminRole)}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <label htmlFor={ids.days}>Expires in days (empty: never)</label>
        <input id={ids.days} value={days} inputMode="decimal" onChange={(e) => setDays(e.target.value)} />
        <button type="submit">Create token</button>
      </form>
      {secret && <Secret label="New admin token" secret={secret} />}
      {note && (
        <p role="status" className={note.ok ? 'ok' : 'error'}>
          {showText(note.text)}
        </p>
      )}
      <ErrorNote error={tokens.error} />
      <div className="scroll">
        <table data-testid="admin-tokens">
          <caption>Tokens issued at runtime (configured ones live in the server's settings)</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {(tokens.data ?? []).map((t) => (
              <tr key={t.id}>
                <td>{showText(t.name)}</td>
                <td>{t.role}</td>
                <td>
                  {formatTime(t.createdAt)} by {showText(t.createdBy)}
                </td>
                <td>{t.expiresAt === null ? 'never' : formatTime(t.expiresAt)}</td>
                <td>
                  {t.revokedAt !== null ? (
                    `revoked ${formatTime(t.revokedAt)}`
                  ) : (
                    <button type="button" className="secondary" onClick={() => void revoke(t.id, t.name)}>
                      Revoke {showText(t.name)}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function EnrollTokens() {
  const { api } = useSession();
  const tokens = useQuery(() => api.enrollTokens.list.query(), []);
  const [name, setName] = useState('');
  const [uses, setUses] = useState('');
  const [days, setDays] = useState('7');
  const [note, setNote] = useState<Note>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const ids = { name: useId(), uses: useId(), days: useId() };

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setNote(null);
    setSecret(null);
    try {
      const issued = await api.enrollTokens.create.mutate({
        name: name.trim(),
        uses: uses.trim() === '' ? null : Number(uses),
        expiresInMs: lifetimeOf(days),
      });
      setSecret(issued.token);
      setName('');
      tokens.reload();
    } catch (error) {
      setNote({ ok: false, text: `not created: ${errorMessage(error)}` });
    }
  };
  const revoke = async (id: string, label: string) => {
    try {
      await api.enrollTokens.revoke.mutate({ id });
      setNote({ ok: true, text: `${label} revoked` });
      tokens.reload();
    } catch (error) {
      setNote({ ok: false, text: `not revoked: ${errorMessage(error)}` });
    }
  };

  return (
    <>
      <h2>Enrollment tokens</h2>
      <form className="actions" onSubmit={(event) => void create(event)} aria-label="New enrollment token">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} required maxLength={64} onChange={(e) => setName(e.target.value)} />
        <label htmlFor={ids.uses}>Devices it may enroll (empty: any number)</label>
        <input id={ids.uses} value={uses} inputMode="numeric" onChange={(e) => setUses(e.target.value)} />
        <label htmlFor={ids.days}>Expires in days (empty: never)</label>
        <input id={ids.days} value={days} inputMode="decimal" onChange={(e) => setDays(e.target.value)} />
        <button type="submit">Create enrollment token</button>
      </form>
      {secret && <Secret label="New enrollment token" secret={secret} />}
      {note && (
        <p role="status" className={note.ok ? 'ok' : 'error'}>
          {showText(note.text)}
        </p>
      )}
      <ErrorNote error={tokens.error} />
      <div className="scroll">
        <table data-testid="enroll-tokens">
          <caption>Enrollment tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Uses left</th>
              <th scope="col">Expires</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {(tokens.data ?? []).map((t) => (
              <tr key={t.id}>
                <td>{showText(t.name)}</td>
                <td>{t.usesLeft ?? 'any'}</td>
                <td>{t.expiresAt === null ? 'never' : formatTime(t.expiresAt)}</td>
                <td>
                  {t.revokedAt !== null ? (
                    `revoked ${formatTime(t.revokedAt)}`
                  ) : (
                    <button type="button" className="secondary" onClick={() => void revoke(t.id, t.name)}>
                      Revoke {showText(t.name)}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function AuditLog() {
  const { api } = useSession();
  const entries = useQuery(() => api.audit.list.query({ limit: 100 }), []);
  return (
    <>
      <h2>Audit log</h2>
      <button type="button" className="secondary" onClick={entries.reload}>
        Read again
      </button>
      <ErrorNote error={entries.error} />
      <div className="scroll">
        <table data-testid="audit-log">
          <caption>The newest 100 calls that change something, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Call</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {[...(entries.data ?? [])].reverse().map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.at)}</td>
                <td>
                  {showText(e.actor)} ({e.role})
                </td>
                <td>
                  <code>{e.action}</code> {showText(e.input)}
                </td>
                <td>{e.ok ? 'done' : `refused: ${showText(e.error ?? '')}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
