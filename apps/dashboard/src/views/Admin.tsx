import type { AdminRole } from '@camfleet/contracts/roles';
import { type FormEvent, useId, useState } from 'react';
import { errorMessage } from '../api.js';
import { ColumnHeads, ErrorNote, Scroll, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { useSession } from '../session.js';
import { Webhooks } from './Webhooks.js';

const DAY_MS = 86_400_000;
const ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

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
      <Webhooks />
      <AuditLog />
    </>
  );
}

/** "90" days as a lifetime in ms; empty: until revoked. */
function lifetimeOf(days: string): number | null {
  return days.trim() === '' ? null : Math.round(Number(days) * DAY_MS);
}

/**
 * What both token panels do: create (the secret shown once, never kept by the page) and revoke,
 * each followed by reading the list again; the outcome as a note.
 */
function useTokenPanel(reload: () => void) {
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const create = async (event: FormEvent, issue: () => Promise<{ token: string }>) => {
    event.preventDefault();
    setNote(null);
    setSecret(null);
    try {
      setSecret((await issue()).token);
      reload();
      return true;
    } catch (error) {
      setNote({ ok: false, text: `not created: ${errorMessage(error)}` });
      return false;
    }
  };
  const revoke = async (name: string, revokeIt: () => Promise<unknown>) => {
    try {
      await revokeIt();
      setNote({ ok: true, text: `${name} revoked` });
      reload();
    } catch (error) {
      setNote({ ok: false, text: `not revoked: ${errorMessage(error)}` });
    }
  };
  return { note, secret, create, revoke };
}

/** The panel's last outcome: a new token's secret (shown once) or what went wrong. */
function Outcome({ label, panel }: { label: string; panel: ReturnType<typeof useTokenPanel> }) {
  return (
    <>
      {panel.secret && (
        <p className="ok" role="status">
          {label}: <code data-testid="new-secret">{panel.secret}</code> (shown once: copy it now)
        </p>
      )}
      {panel.note && (
        <p role="status" className={panel.note.ok ? 'ok' : 'error'}>
          {showText(panel.note.text)}
        </p>
      )}
    </>
  );
}

/** A token's state: revoked when, or a button to revoke it. */
function TokenState({
  name,
  revokedAt,
  onRevoke,
}: {
  name: string;
  revokedAt: number | null;
  onRevoke: () => void;
}) {
  if (revokedAt !== null) return <>revoked {formatTime(revokedAt)}</>;
  return (
    <button type="button" className="secondary" onClick={onRevoke}>
      Revoke {showText(name)}
    </button>
  );
}

function AdminTokens() {
  const { api } = useSession();
  const tokens = useQuery(() => api.tokens.list.query(), []);
  const panel = useTokenPanel(tokens.reload);
  const [name, setName] = useState('');
  const [role, setRole] = useState<AdminRole>('operator');
  const [days, setDays] = useState('90');
  const ids = { name: useId(), role: useId(), days: useId() };
  const create = async (event: FormEvent) => {
    const issue = () => api.tokens.create.mutate({ name: name.trim(), role, expiresInMs: lifetimeOf(days) });
    if (await panel.create(event, issue)) setName('');
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
      <Outcome label="New admin token" panel={panel} />
      <ErrorNote error={tokens.error} />
      <div className="scroll">
        <table data-testid="admin-tokens">
          <caption>Tokens issued at runtime (configured ones live in the server's settings)</caption>
          <ColumnHeads names={['Name', 'Role', 'Created', 'Expires', 'State']} />
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
                  <TokenState
                    name={t.name}
                    revokedAt={t.revokedAt}
                    onRevoke={() => void panel.revoke(t.name, () => api.tokens.revoke.mutate({ id: t.id }))}
                  />
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
  const panel = useTokenPanel(tokens.reload);
  const [name, setName] = useState('');
  const [uses, setUses] = useState('');
  const [days, setDays] = useState('7');
  const ids = { name: useId(), uses: useId(), days: useId() };
  const create = async (event: FormEvent) => {
    const issue = () =>
      api.enrollTokens.create.mutate({
        name: name.trim(),
        uses: uses.trim() === '' ? null : Number(uses),
        expiresInMs: lifetimeOf(days),
      });
    if (await panel.create(event, issue)) setName('');
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
      <Outcome label="New enrollment token" panel={panel} />
      <ErrorNote error={tokens.error} />
      <div className="scroll">
        <table data-testid="enroll-tokens">
          <caption>Enrollment tokens</caption>
          <ColumnHeads names={['Name', 'Uses left', 'Expires', 'State']} />
          <tbody>
            {(tokens.data ?? []).map((t) => (
              <tr key={t.id}>
                <td>{showText(t.name)}</td>
                <td>{t.usesLeft ?? 'any'}</td>
                <td>{t.expiresAt === null ? 'never' : formatTime(t.expiresAt)}</td>
                <td>
                  <TokenState
                    name={t.name}
                    revokedAt={t.revokedAt}
                    onRevoke={() =>
                      void panel.revoke(t.name, () => api.enrollTokens.revoke.mutate({ id: t.id }))
                    }
                  />
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
      <Scroll label="Audit log">
        <table data-testid="audit-log">
          <caption>The newest 100 calls that change something, newest first</caption>
          <ColumnHeads names={['When', 'Who', 'Call', 'Outcome']} />
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
      </Scroll>
    </>
  );
}
