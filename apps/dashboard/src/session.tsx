import { type AdminRole, roleAtLeast } from '@camfleet/contracts/roles';
import { createContext, type FormEvent, type ReactNode, useContext, useEffect, useId, useState } from 'react';
import { type Api, type Connection, connect, errorCode, errorMessage } from './api.js';

/** Kept for this tab only (sessionStorage), never in a URL, a cookie or localStorage. */
const TOKEN_KEY = 'camfleet.token';

export interface Session {
  api: Api;
  name: string;
  role: AdminRole;
  /** Operators and admins may pause, resume, advance and cancel rollouts, publish and create. */
  canOperate: boolean;
  /** For the artifact upload (`PUT /artifacts`, plain HTTP beside tRPC). */
  token: string;
  signOut(): void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in view');
  return session;
}

interface Signed {
  connection: Connection;
  token: string;
  name: string;
  role: AdminRole;
}

/** Checks a token with the server (`tokens.whoami`: name and role) and opens a connection for it. */
async function signIn(token: string): Promise<Signed> {
  const connection = connect(token);
  try {
    const me = await connection.api.tokens.whoami.query();
    return { connection, token, name: me.name, role: me.role };
  } catch (error) {
    connection.close();
    throw error;
  }
}

export function SessionGate({ children }: { children: ReactNode }) {
  const [signed, setSigned] = useState<Signed | null>(null);
  // A token from earlier in this tab: check it again before showing anything.
  const [resuming, setResuming] = useState(() => sessionStorage.getItem(TOKEN_KEY) !== null);
  const [error, setError] = useState<string | null>(null);

  const start = async (token: string): Promise<void> => {
    setError(null);
    try {
      const result = await signIn(token);
      sessionStorage.setItem(TOKEN_KEY, token);
      setSigned(result);
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      const code = errorCode(err);
      setError(
        code === 'UNAUTHORIZED'
          ? 'The server refused this token (unknown, expired or revoked).'
          : `Could not sign in: ${errorMessage(err)}`,
      );
    }
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once, on load
  useEffect(() => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) void start(token).finally(() => setResuming(false));
  }, []);

  useEffect(() => () => signed?.connection.close(), [signed]);

  if (resuming) return <p className="splash">Signing in…</p>;
  if (!signed) return <SignIn onSubmit={start} error={error} />;

  const session: Session = {
    api: signed.connection.api,
    name: signed.name,
    role: signed.role,
    canOperate: roleAtLeast(signed.role, 'operator'),
    token: signed.token,
    signOut: () => {
      sessionStorage.removeItem(TOKEN_KEY);
      setSigned(null);
    },
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

function SignIn({ onSubmit, error }: { onSubmit: (token: string) => Promise<void>; error: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const tokenId = useId();
  const errorId = useId();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    await onSubmit(token.trim());
    setBusy(false);
  };
  return (
    <main className="sign-in">
      <h1>camfleet</h1>
      <form onSubmit={submit} aria-describedby={error ? errorId : undefined}>
        <label htmlFor={tokenId}>Admin token</label>
        <input
          id={tokenId}
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined}
        />
        <p className="hint">Kept in this tab only; closing it signs you out.</p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p id={errorId} role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
