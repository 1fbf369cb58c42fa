import type { Gate } from '@camfleet/contracts';

export type SoakGate = Extract<Gate, { kind: 'soak' }>;

/** What differs between surfaces in describing a gate. */
export interface GateWording {
  /** A share in [0, 1] as text: `95%`. */
  share: (share: number) => string;
  /** How the soak reads: when it ends, on the surface's own clock. */
  soak: (gate: SoakGate) => string;
  /** A moment (epoch ms) on the surface's own clock: when a scheduled rollout starts. */
  at: (ms: number) => string;
  /** How to open the wave an operator waits for (the CLI names its command), after a colon. */
  advanceHint?: string;
}

/** What holds a rollout back, for people: `waiting for wave 1 to reach 95% success (80% now)`. */
export function gateText(gate: Gate, wording: GateWording): string {
  switch (gate.kind) {
    case 'paused': {
      // The server says `paused` when nobody gave a reason.
      const reason = gate.reason.trim();
      return reason === '' || reason === 'paused' ? 'paused' : `paused: ${reason}`;
    }
    case 'operator': {
      // `wave` is the one an operator would open (counted from 0).
      const text = `waiting for an operator to open wave ${gate.wave + 1}`;
      return wording.advanceHint !== undefined ? `${text}: ${wording.advanceHint}` : text;
    }
    case 'success':
      return `waiting for wave ${gate.wave + 1} to reach ${wording.share(gate.needed)} success (${wording.share(
        gate.reached,
      )} now)`;
    case 'soak':
      return wording.soak(gate);
    case 'scheduled':
      return `scheduled to start ${wording.at(gate.startsAt)}`;
  }
}
