import type { Gate } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { type GateWording, gateText } from './gate.js';
import { formatPercent } from './units.js';

const plain: GateWording = {
  share: (share) => formatPercent(share),
  soak: (gate) => `soaking until ${gate.until}`,
  at: (ms) => `at ${ms}`,
};

describe('gateText', () => {
  it.each([
    [{ kind: 'paused', reason: 'maintenance window' }, 'paused: maintenance window'],
    [{ kind: 'paused', reason: ' ' }, 'paused'],
    [{ kind: 'paused', reason: 'paused' }, 'paused'],
    [{ kind: 'operator', wave: 1 }, 'waiting for an operator to open wave 2'],
    [
      { kind: 'success', wave: 0, needed: 0.95, reached: 0.8 },
      'waiting for wave 1 to reach 95% success (80% now)',
    ],
    [{ kind: 'soak', wave: 1, until: 1234 }, 'soaking until 1234'],
    [{ kind: 'scheduled', startsAt: 5678 }, 'scheduled to start at 5678'],
  ] as Array<[Gate, string]>)('describes %j', (gate, text) => {
    expect(gateText(gate, plain)).toBe(text);
  });

  it('names how to open the wave, if the surface has a way', () => {
    expect(gateText({ kind: 'operator', wave: 0 }, { ...plain, advanceHint: 'press advance' })).toBe(
      'waiting for an operator to open wave 1: press advance',
    );
  });

  it("writes shares in the surface's own precision", () => {
    const gate: Gate = { kind: 'success', wave: 2, needed: 0.995, reached: 0.5 };
    expect(gateText(gate, { ...plain, share: (share) => formatPercent(share, 0) })).toBe(
      'waiting for wave 3 to reach 100% success (50% now)',
    );
    expect(gateText(gate, plain)).toBe('waiting for wave 3 to reach 99.5% success (50% now)');
  });
});
