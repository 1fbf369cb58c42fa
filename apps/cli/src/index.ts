export { CliError, describeError, EXIT, exitCodeOf, UsageError } from './errors.js';
export type { Connection, FleetIO, OutStream } from './io.js';
export { buildProgram, runFleet } from './program.js';
