import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from './wait.js';

/**
 * Waits until a freshly spawned process's output says it is ready (`ready` returns a value), and
 * fails at once — with its output — if the process exits first.
 */
export async function awaitReady<T>(
  child: ChildProcess,
  what: string,
  ready: (output: string) => T | null | undefined,
  timeoutMs: number,
): Promise<{ value: NonNullable<T>; output: () => string }> {
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = once(child, 'exit').then(() => {
    throw new Error(`${what} exited (${child.exitCode}): ${output}`);
  });
  exited.catch(() => undefined);
  try {
    const value = await Promise.race([
      waitFor(() => ready(output), { timeoutMs, what: `${what} to start` }),
      exited,
    ]);
    return { value, output: () => output };
  } catch (error) {
    // Never ready: nobody will stop it, so it must not outlive the caller's failure.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
}
