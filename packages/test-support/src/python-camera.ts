import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './processes.js';
import { waitFor } from './wait.js';

/** Debian's Python, which has python3-websockets and python3-cryptography (.ci/setup installs them). */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const CAMERA_PY_DIR = join(ROOT, 'apps', 'camera-py');

/** One line of the Python camera's JSON log. */
export interface CameraEvent {
  t: number;
  event: string;
  [field: string]: unknown;
}

/**
 * The Python reference camera (apps/camera-py) as a real process: its JSON log lines are collected
 * as events a test waits on.
 */
export class PythonCamera {
  readonly events: CameraEvent[] = [];
  stderr = '';
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[]) {
    this.child = spawn(DEBIAN_PYTHON, ['-m', 'camfleet_camera', ...args], {
      cwd: CAMERA_PY_DIR,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          this.events.push(JSON.parse(line) as CameraEvent);
        } catch {
          this.stderr += `unparsed stdout: ${line}\n`;
        }
      }
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The events of one kind so far. */
  named(event: string): CameraEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** The first event (seen already or still to come) that matches. */
  waitEvent(match: (event: CameraEvent) => boolean, what: string, timeoutMs = 60_000): Promise<CameraEvent> {
    return waitFor(() => this.events.find(match), {
      timeoutMs,
      what: `the Python camera to log ${what} (stderr: ${this.stderr.slice(-500)})`,
    });
  }

  /** Stops it (SIGTERM: a clean close) and returns its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
