import { appRouter } from '@camfleet/contracts';
import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { deserializeParsedSuperjson, isDefaultSuperjson, serializeSuperjson } from './plain-json.js';

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

describe('deserializeParsedSuperjson', () => {
  /** What a request's input becomes, as superjson makes it (or the error it throws). */
  const read = (deserialize: (payload: unknown) => unknown, text: string) => {
    try {
      const value = deserialize(JSON.parse(text));
      return { value, proto: value && typeof value === 'object' ? Object.getPrototypeOf(value) : null };
    } catch (error) {
      return { throws: (error as Error).message };
    }
  };
  const same = (text: string) =>
    expect(read(deserializeParsedSuperjson, text)).toStrictEqual(
      read((payload) => superjson.deserialize(payload as never), text),
    );

  it('reads what superjson reads, for any JSON input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (json, enveloped) => {
        same(JSON.stringify(enveloped ? { json } : json) ?? 'null');
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves to superjson what it copies with meaning or annotates', () => {
    for (const text of [
      '{"json":{"__proto__":{"attempt":1},"deliveryId":"x"}}',
      '{"json":[{"a":{"__proto__":null}}]}',
      '{"json":{"d":"1970-01-01T00:00:00.000Z"},"meta":{"values":{"d":["Date"]},"v":1}}',
      '{"json":{"a":{"x":1}, "b":{"x":1}},"meta":{"referentialEqualities":{"a":["b"]},"v":1}}',
      '{"json":1,"meta":null}',
      '{}',
      '[]',
      'null',
      '"text"',
      '{"json":{"deliveryId":"ro_1:cam-1","attempt":1,"status":"succeeded"}}',
    ])
      same(text);
  });
});
