import type { Unsubscribable } from '@trpc/server/observable';
import { useEffect, useState } from 'react';
import { errorMessage } from './api.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'error';

export interface LiveHandlers<T> {
  onStarted: () => void;
  onData: (value: T) => void;
  onError: (error: unknown) => void;
  onComplete: () => void;
  onConnectionStateChange: (state: { state: string }) => void;
}

/**
 * Keeps a tRPC subscription open while mounted: `open` subscribes with the handlers given. The
 * WebSocket client re-subscribes after a reconnect (events.follow resumes from its last id).
 */
export function useLive<T>(
  open: (handlers: LiveHandlers<T>) => Unsubscribable,
  onData: (value: T) => void,
  deps: readonly unknown[],
): { state: LiveState; error: string | null } {
  const [state, setState] = useState<LiveState>('connecting');
  const [error, setError] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed by the caller's deps
  useEffect(() => {
    setState('connecting');
    setError(null);
    const subscription = open({
      onStarted: () => setState('live'),
      onData: (value) => {
        setState('live');
        onData(value);
      },
      onError: (err) => {
        setState('error');
        setError(errorMessage(err));
      },
      onComplete: () => setState('ended'),
      onConnectionStateChange: (change) => {
        if (change.state === 'connecting') setState((s) => (s === 'live' ? 'reconnecting' : s));
      },
    });
    return () => subscription.unsubscribe();
  }, [...deps]);
  return { state, error };
}

/** The latest value a subscription pushed (null until the first), with its connection state. */
export function useLiveValue<T>(
  open: (handlers: LiveHandlers<T>) => Unsubscribable,
  deps: readonly unknown[],
): { data: T | null; state: LiveState; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const live = useLive(open, setData, deps);
  return { data, ...live };
}

export function LiveBadge({ state }: { state: LiveState }) {
  const text: Record<LiveState, string> = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'reconnecting…',
    ended: 'ended',
    error: 'stopped',
  };
  return (
    <span className={`live live-${state}`} data-testid="live-state">
      {text[state]}
    </span>
  );
}
