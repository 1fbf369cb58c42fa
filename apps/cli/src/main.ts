#!/usr/bin/env node
import { runFleet } from './program.js';

const controller = new AbortController();
process.on('SIGINT', () => {
  // First Ctrl-C: stop cleanly (restore the cursor, close the socket); second: just go.
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});

const code = await runFleet(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});

// Flush what is buffered, then exit: lingering sockets must not keep a finished command alive.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
