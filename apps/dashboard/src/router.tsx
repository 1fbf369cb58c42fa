import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from 'react';

/**
 * A tiny history router: the pods serve index.html for every unknown path, so /rollouts/ro_… and
 * /devices/cam-0001 are real, shareable URLs (they never carry the token).
 */
const CHANGE = 'camfleet:navigate';

export function navigate(path: string): void {
  if (path === currentPath()) return;
  window.history.pushState(null, '', path);
  window.dispatchEvent(new Event(CHANGE));
}

function currentPath(): string {
  return window.location.pathname + window.location.search;
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return path;
}

/** A real link (middle-click, copy link work); a plain click navigates in place. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={onClick} {...rest} />;
}
