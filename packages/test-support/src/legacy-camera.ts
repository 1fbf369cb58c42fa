import WebSocket from 'ws';
import { waitFor } from './wait.js';

/**
 * A camera of the original system, written from its protocol description alone (no camfleet
 * code): it opens `/ws/<device_id>`, receives `{"update": {...}}` text frames, handles one at a
 * time in order and answers each with `{"status": "success" | "failed", "device_id", "update"}`.
 */
export interface LegacyUpdate {
  patch_file: string;
  patch_path: string;
  timestamp: number;
}

/** What the camera does with the n-th update it receives (0-based): answer, or stay silent. */
export type LegacyBehaviour = (update: LegacyUpdate, n: number) => 'success' | 'failed' | 'silent';

export class LegacyCamera {
  readonly updates: LegacyUpdate[] = [];
  /** Updates answered `success`, in order: the patches this camera installed. */
  readonly installed: string[] = [];
  closeCode: number | null = null;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    readonly id: string,
    readonly ws: WebSocket,
    private readonly behaviour: LegacyBehaviour,
    private readonly answerDelayMs: number,
  ) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { update: LegacyUpdate };
      const n = this.updates.push(frame.update) - 1;
      // One update at a time, answered in order (as the original's camera did).
      this.queue = this.queue.then(() => this.answer(frame.update, n));
    });
    ws.on('close', (code) => {
      this.closeCode = code;
    });
  }

  /** Connects; resolves once open, rejects with the HTTP status of a refused upgrade. */
  static connect(
    baseUrl: string,
    id: string,
    options: { token?: string; behaviour?: LegacyBehaviour; answerDelayMs?: number } = {},
  ): Promise<LegacyCamera> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/ws/${encodeURIComponent(id)}${options.token ? `?token=${encodeURIComponent(options.token)}` : ''}`;
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once('open', () =>
        resolve(new LegacyCamera(id, ws, options.behaviour ?? (() => 'success'), options.answerDelayMs ?? 0)),
      );
      ws.once('unexpected-response', (_req, res) => reject(new LegacyRefused(res.statusCode ?? 0)));
      ws.once('error', reject);
    });
  }

  private async answer(update: LegacyUpdate, n: number): Promise<void> {
    const status = this.behaviour(update, n);
    if (status === 'silent') return;
    if (this.answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.answerDelayMs));
    if (status === 'success') this.installed.push(update.patch_file);
    this.send(JSON.stringify({ status, device_id: this.id, update }));
  }

  /** Sends raw text (tests send malformed frames with it). */
  send(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Waits until it has received `count` updates. */
  async waitForUpdates(count: number, timeoutMs = 30_000): Promise<LegacyUpdate[]> {
    await waitFor(() => this.updates.length >= count, { timeoutMs, what: `${this.id}: ${count} updates` });
    return this.updates;
  }

  close(): void {
    this.ws.close();
  }
}

export class LegacyRefused extends Error {
  constructor(readonly status: number) {
    super(`legacy connection refused with HTTP ${status}`);
  }
}
