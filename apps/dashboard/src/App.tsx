import { lazy, Suspense, useEffect, useRef } from 'react';
import { Link, usePath } from './router.js';
import { useSession } from './session.js';
import { DevicePage } from './views/Device.js';
import { DevicesPage } from './views/Devices.js';
import { EventsPage } from './views/Events.js';
import { OverviewPage } from './views/Overview.js';
import { RolloutPage } from './views/Rollout.js';
import { RolloutsPage } from './views/Rollouts.js';

// The pages with forms load on first use: they bundle the contracts' schemas (zod), which the
// watching pages do without.
const AdminPage = lazy(() => import('./views/Admin.js').then((m) => ({ default: m.AdminPage })));
const NewRolloutPage = lazy(() =>
  import('./views/NewRollout.js').then((m) => ({ default: m.NewRolloutPage })),
);
const PatchesPage = lazy(() => import('./views/Patches.js').then((m) => ({ default: m.PatchesPage })));

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/patches', label: 'Patches' },
  { to: '/rollouts', label: 'Rollouts' },
  { to: '/devices', label: 'Devices' },
  { to: '/events', label: 'Events' },
];

function route(path: string) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [section, id] = parts;
  if (!section) return { key: 'overview', view: <OverviewPage /> };
  if (section === 'rollouts' && id === 'new') return { key: 'new-rollout', view: <NewRolloutPage /> };
  if (section === 'rollouts' && id) return { key: `rollout:${id}`, view: <RolloutPage rolloutId={id} /> };
  if (section === 'rollouts') return { key: 'rollouts', view: <RolloutsPage /> };
  if (section === 'devices' && id) return { key: `device:${id}`, view: <DevicePage deviceId={id} /> };
  if (section === 'devices') return { key: 'devices', view: <DevicesPage /> };
  if (section === 'patches') return { key: 'patches', view: <PatchesPage /> };
  if (section === 'events') return { key: 'events', view: <EventsPage /> };
  if (section === 'admin') return { key: 'admin', view: <AdminPage /> };
  return {
    key: 'missing',
    view: (
      <section>
        <h1>Not found</h1>
        <p>
          Nothing here. <Link to="/">Back to the overview</Link>.
        </p>
      </section>
    ),
  };
}

export function App() {
  const session = useSession();
  const path = usePath();
  const { key, view } = route(path);
  const main = useRef<HTMLElement>(null);
  // After a navigation, move focus to the new page (screen readers announce it; keyboard users
  // continue from the top of the content, not from the link they left).
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each page change
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [key]);
  const section = `/${path.split('/')[1] ?? ''}`;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">camfleet</span>
        <nav aria-label="Main">
          <ul>
            {[...NAV, ...(session.role === 'admin' ? [{ to: '/admin', label: 'Admin' }] : [])].map((item) => (
              <li key={item.to}>
                <Link to={item.to} aria-current={section === item.to ? 'page' : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="whoami">
            {session.name} <span className={`role role-${session.role}`}>{session.role}</span>
          </span>
          <button type="button" className="secondary" onClick={session.signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} key={key}>
        <Suspense fallback={<p className="muted">Loading…</p>}>{view}</Suspense>
      </main>
    </>
  );
}
