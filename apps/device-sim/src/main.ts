import { writeFile } from 'node:fs/promises';
import { EXIT_BAD_FLAGS, exitCodeOf, parseCli } from './cli.js';
import { Credentials, CredentialsFileError } from './credentials.js';
import { Fleet } from './fleet.js';
import { releasedByFile } from './hold.js';
import { IdleTracker } from './idle.js';
import { ImageStore } from './images.js';
import { formatRejections, Reporter } from './output.js';
import { loadTrustedKeys, TrustedKeyError } from './signatures.js';

async function main(): Promise<number> {
  const parsed = parseCli(process.argv.slice(2), process.env);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.code;
  }
  const options = parsed.options;
  let credentials: Credentials;
  try {
    credentials =
      options.credentialsFile === null
        ? Credentials.inMemory()
        : // Without an enrollment token the file is all there is: it must exist.
          await Credentials.load(options.credentialsFile, { missingOk: options.enrollToken !== null });
  } catch (error) {
    if (!(error instanceof CredentialsFileError)) throw error;
    process.stderr.write(`error: --credentials ${error.message}\n`);
    return EXIT_BAD_FLAGS;
  }
  let trustedKeys: string[];
  try {
    trustedKeys = await loadTrustedKeys(options.trustedKeyFiles);
  } catch (error) {
    if (!(error instanceof TrustedKeyError)) throw error;
    process.stderr.write(`error: --trusted-keys ${error.message}\n`);
    return EXIT_BAD_FLAGS;
  }
  let images: { store: ImageStore; firmwareImage: string | null } | null = null;
  if (options.imageDir !== null) {
    try {
      const store = await ImageStore.open(options.imageDir);
      const firmwareImage = options.firmwareImage === null ? null : await store.adopt(options.firmwareImage);
      images = { store, firmwareImage };
    } catch (error) {
      process.stderr.write(
        `error: --image-dir/--firmware-image: ${error instanceof Error ? error.message : error}\n`,
      );
      return EXIT_BAD_FLAGS;
    }
  }
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
    credentials,
    enrollToken: options.enrollToken,
    prefix: options.prefix,
    model: options.model,
    firmwareVersion: options.firmware,
    labels: options.labels,
    faults: options.faults,
    signatures: { trustedKeys, requireSignature: options.requireSignature },
    ...(images ? { images: images.store } : {}),
    ...(images?.firmwareImage ? { firmwareImage: images.firmwareImage } : {}),
    ...(options.holdInstallsFile ? { installHold: releasedByFile(options.holdInstallsFile) } : {}),
    staggerMs: options.staggerMs,
    onEvent: (event) => {
      // Work is offers, installs and reports; connection churn (blips, crashes) is not.
      const churn = ['connected', 'subscribed', 'disconnected', 'crash'].includes(event.type);
      if (!churn) idle?.touch(Date.now());
      reporter.event(event);
    },
  });

  // The status tick also keeps the process alive once every device has stopped (all rejected).
  let tick: NodeJS.Timeout | undefined;
  const finished = new Promise<'signal' | 'idle' | 'rejected' | 'stopped'>((resolve) => {
    process.once('SIGINT', () => resolve('signal'));
    process.once('SIGTERM', () => resolve('signal'));
    tick = setInterval(() => {
      reporter.status(fleet.summary());
      if (fleet.allRejected) resolve('rejected');
      // Nothing left that could do anything (rejected, replaced by another instance, failed).
      else if (fleet.allStopped) resolve('stopped');
      else if (idle?.isIdle(fleet.busy, Date.now())) resolve('idle');
    }, 250);
  });
  fleet.start();
  const reason = await finished;
  clearInterval(tick);

  // Nobody is connected once stopped: keep the count from just before.
  const { connected } = fleet.summary();
  await fleet.stop();
  // Secrets obtained by enrolling are written before the process goes.
  await credentials.settled();
  const summary = { ...fleet.summary(), connected };
  reporter.final(summary);
  const rejections = fleet.rejections();
  const report = formatRejections(rejections);
  if (report !== null) process.stderr.write(report);
  if (options.summaryFile) {
    const body = {
      ...summary,
      urls: options.urls,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
      exitReason: reason,
      rejected: rejections,
    };
    await writeFile(options.summaryFile, `${JSON.stringify(body, null, 2)}\n`);
  }
  return exitCodeOf(rejections.length);
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
