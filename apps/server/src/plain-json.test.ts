import { appRouter } from '@camfleet/contracts';
import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { isDefaultSuperjson, serializeSuperjson } from './plain-json.js';

/** What goes on the wire: the envelope, stringified (or the error superjson throws). */
function wire(serialize: (value: unknown) => unknown, value: unknown): string {
  try {
    return JSON.stringify(serialize(value)) ?? 'undefined';
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

const same = (value: unknown) =>
  expect(wire(serializeSuperjson, value)).toBe(wire((v) => superjson.serialize(v), value));

describe('serializeSuperjson', () => {
  it('is the router transformer the device transport uses', () => {
    expect(isDefaultSuperjson(appRouter._def._config.transformer)).toBe(true);
  });

  it('sends what superjson sends, for any value', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withSparseArray: true,
          withBoxedValues: true,
          withTypedArray: true,
        }),
        (value) => {
          same(value);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        same(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves to superjson what it annotates or refuses', () => {
    const shared = { a: 1 };
    const cases: unknown[] = [
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      undefined,
      { a: undefined },
      new Array(3), // holes
      { x: shared, y: shared },
      [shared, shared],
      JSON.parse('{"__proto__": {"a": 1}}'),
      { constructor: 'x' },
      { prototype: 1 },
      { d: new Date(0) },
      { f: () => 1 },
      Object.assign([1, 2], { extra: 1 }),
      { deep: { deeper: { deepest: [1, 'a', true, null] } } },
      Array.from({ length: 100 }, (_, i) => ({ i })),
    ];
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    cases.push(circular);
    for (const value of cases) same(value);
  });

  it('returns the value itself as the envelope of plain JSON', () => {
    const offer = { id: 'o1', data: { type: 'offer', offer: { attempt: 1, patch: { notes: '' } } } };
    expect(serializeSuperjson(offer)).toEqual({ json: offer });
    expect((serializeSuperjson(offer) as { json: unknown }).json).toBe(offer);
  });
});
