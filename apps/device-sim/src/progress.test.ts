import { describe, expect, it } from 'vitest';
import { ProgressSender } from './progress.js';

/** A send whose calls stay in flight until released, in order. */
function gatedSend(): { send: (bytes: number) => Promise<void>; sent: number[]; release: () => void } {
  const sent: number[] = [];
  const gates: Array<() => void> = [];
  const send = (bytes: number): Promise<void> => {
    sent.push(bytes);
    return new Promise<void>((resolve) => gates.push(resolve));
  };
  return { send, sent, release: () => gates.shift()?.() };
}

describe('ProgressSender', () => {
  it('keeps one report in flight, and only the latest count waiting behind it', async () => {
    const { send, sent, release } = gatedSend();
    const sender = new ProgressSender(send, new AbortController().signal);
    sender.push(10);
    sender.push(20);
    sender.push(30);
    expect(sent).toEqual([10]);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([10, 30]);
    release();
    await sender.settled();
    expect(sent).toEqual([10, 30]);
  });

  it('sends nothing more once its signal aborts', async () => {
    const { send, sent, release } = gatedSend();
    const abort = new AbortController();
    const sender = new ProgressSender(send, abort.signal);
    sender.push(10);
    sender.push(20);
    abort.abort();
    release();
    await sender.settled();
    expect(sent).toEqual([10]);
  });
});
