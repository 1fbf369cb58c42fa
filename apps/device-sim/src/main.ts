import { writeFile } from 'node:fs/promises';
import { EXIT_ALL_REJECTED, parseCli } from './cli.js';
import { Fleet } from './fleet.js';
import { IdleTracker } from './idle.js';
import { Reporter } from './output.js';

async function main(): Promise<number> {
  const parsed = parseCli(process.argv.slice(2), process.env);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.code;
  }
  const options = parsed.options;
  const reporter = new Reporter({
    live: process.stdout.isTTY === true,
    quiet: options.quiet,
    write: (text) => process.stdout.write(text),
  });
  const startedAt = Date.now();
  const idle = options.exitWhenIdleMs === null ? null : new IdleTracker(options.exitWhenIdleMs, startedAt);

  const fleet = new Fleet({
    urls: options.urls,
    devices: options.devices,
    token: options.token,
    prefix: options.prefix,
    model: options.model,
    firmwareVersion: options.firmware,
    labels: options.labels,
    faults: options.faults,
    staggerMs: options.staggerMs,
    onEvent: (event) => {
      // Work is offers, installs and reports; connection churn (blips, crashes) is not.
      const churn = event.type === 'connected' || event.type === 'disconnected' || event.type === 'crash';
      if (!churn) idle?.touch(Date.now());
      reporter.event(event);
    },
  });

  // The status tick also keeps the process alive once every device has stopped (all rejected).
  let tick: NodeJS.Timeout | undefined;
  const finished = new Promise<'signal' | 'idle' | 'rejected'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
    tick = setInterval(() => {
      reporter.status(fleet.summary());
      if (fleet.allRejected) resolve('rejected');
      else if (idle?.isIdle(fleet.busy, Date.now())) resolve('idle');
    }, 250);
  });
  fleet.start();
  const reason = await finished;
  clearInterval(tick);

  // Nobody is connected once stopped: keep the count from just before.
  const { connected } = fleet.summary();
  await fleet.stop();
  const summary = { ...fleet.summary(), connected };
  reporter.final(summary);
  if (options.summaryFile) {
    const body = {
      ...summary,
      urls: options.urls,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
      exitReason: reason,
    };
    await writeFile(options.summaryFile, `${JSON.stringify(body, null, 2)}\n`);
  }
  return reason === 'rejected' || (reason !== 'signal' && fleet.allRejected) ? EXIT_ALL_REJECTED : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `device-sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
