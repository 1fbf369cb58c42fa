import { describe, expect, it } from 'vitest';
import { restInput } from './input.js';
import { restOperations } from './routes.js';

function operation(procedure: string) {
  const op = restOperations().find((one) => one.procedure === procedure);
  if (!op) throw new Error(`no operation ${procedure}`);
  return op;
}

const request = (parts: { params?: Record<string, string>; query?: string; body?: unknown }) => ({
  params: parts.params ?? {},
  query: new URLSearchParams(parts.query ?? ''),
  body: async () => parts.body,
});

describe('a REST request made into its procedure input', () => {
  it('reads query values as their fields are typed, and leaves the rest to zod', async () => {
    const list = operation('devices.list');
    expect(await restInput(list, request({ query: 'limit=5&online=false&selector=site%3Dnorth' }))).toEqual({
      limit: 5,
      online: false,
      selector: 'site=north',
    });
    // What does not read as the type stays text, for zod to refuse with its own message.
    expect(await restInput(list, request({ query: 'limit=five&online=maybe' }))).toEqual({
      limit: 'five',
      online: 'maybe',
    });
    expect(await restInput(list, request({ query: 'limit=1&limit=2' }))).toEqual({ limit: ['1', '2'] });
    // Nothing given: undefined, so the input's defaults apply.
    expect(await restInput(list, request({}))).toBeUndefined();
  });

  it('joins path parameters to the body, the path first and winning', async () => {
    const pause = operation('rollout.pause');
    const input = await restInput(
      pause,
      request({ params: { rolloutId: 'ro_a' }, body: { reason: 'r', rolloutId: 'ro_b' } }),
    );
    expect(input).toEqual({ rolloutId: 'ro_a', reason: 'r' });
    expect(Object.keys(input as object)).toEqual(['rolloutId', 'reason']);
    expect(await restInput(pause, request({ params: { rolloutId: 'ro_a' } }))).toEqual({ rolloutId: 'ro_a' });
    await expect(restInput(pause, request({ params: { rolloutId: 'ro_a' }, body: [1] }))).rejects.toThrow(
      /body must be a JSON object/,
    );
  });

  it('passes a body as it is where the path carries nothing', async () => {
    const body = { patchId: 'pat_1', waves: [5, 100] };
    expect(await restInput(operation('rollout.create'), request({ body }))).toBe(body);
    expect(await restInput(operation('fleet.stats'), request({ query: 'x=1' }))).toBeUndefined();
  });
});
