import { createAdminClient, endpointsOf, type FleetClient } from '@camfleet/client';
import { escapeJsonControls } from '@camfleet/present';
import type { Command } from 'commander';
import { type Colors, colorsFor } from './colors.js';
import {
  checkContextName,
  configPath,
  type FleetConfigFile,
  type FleetContext,
  readConfigFile,
} from './config-file.js';
import { UsageError } from './errors.js';
import type { FleetIO, OutStream } from './io.js';
import { type Align, oneLine, table, terminalLines, truncate } from './table.js';

/** Options every command takes (declared once on the root program). */
export interface GlobalOptions {
  url?: string;
  token?: string;
  context?: string;
  json?: boolean;
  /** False with --no-color. */
  color?: boolean;
}

export interface Config {
  url: string;
  token: string;
  /** Where the URL came from, for messages: `--url`, `FLEET_URL`, `context 'prod'`. */
  urlFrom: string;
  /** Where the token came from: `--token`, `FLEET_TOKEN`, `context 'prod'`. */
  tokenFrom: string;
  /** The context that supplied something, if any. */
  context: string | null;
}

const SET_CONTEXT_HINT = 'fleet config set-context NAME --url URL --token TOKEN';

/**
 * Where the pod URL and the token come from, field by field, first found wins:
 * --url/--token, then the context named by --context, then FLEET_URL/FLEET_TOKEN, then the
 * current context of the config file. The file is only read when something is still missing
 * (or --context names one), so FLEET_URL + FLEET_TOKEN work as before whatever the file holds.
 * Anything missing or malformed is a usage error (exit 2), and nothing is sent.
 */
export function resolveConfig(globals: GlobalOptions, env: FleetIO['env']): Config {
  const path = configPath(env);
  let file: FleetConfigFile | null = null;
  const load = (): FleetConfigFile => {
    file ??= readConfigFile(path);
    return file;
  };
  const where = path ?? 'the config file (HOME is not set)';
  const given = (value: string | undefined): string | null => {
    const text = value?.trim() ?? '';
    return text === '' ? null : text;
  };

  let named: { name: string; context: FleetContext } | null = null;
  if (globals.context !== undefined) {
    const name = checkContextName(globals.context);
    const context = load().contexts[name];
    if (context === undefined) {
      throw new UsageError(`no context '${name}' in ${where}: fleet config get-contexts lists them`);
    }
    named = { name, context };
  }
  let current: { name: string; context: FleetContext } | null | undefined;
  const currentContext = (): { name: string; context: FleetContext } | null => {
    if (current !== undefined) return current;
    const config = load();
    const name = config.currentContext;
    if (name === null) {
      current = null;
      return current;
    }
    const context = config.contexts[name];
    if (context === undefined) {
      throw new UsageError(
        `the current context '${name}' is not in ${where}: choose one with fleet config use-context NAME`,
      );
    }
    current = { name, context };
    return current;
  };

  type Found = { value: string; from: string; context: string | null };
  const pick = (flag: string | undefined, flagName: string, envName: 'FLEET_URL' | 'FLEET_TOKEN') => {
    const field = envName === 'FLEET_URL' ? 'url' : 'token';
    const fromFlag = given(flag);
    if (fromFlag !== null) return { value: fromFlag, from: flagName, context: null } satisfies Found;
    const fromNamed = named ? given(named.context[field]) : null;
    if (named && fromNamed !== null) {
      return { value: fromNamed, from: `context '${named.name}'`, context: named.name } satisfies Found;
    }
    const fromEnv = given(env[envName]);
    if (fromEnv !== null) return { value: fromEnv, from: envName, context: null } satisfies Found;
    if (named) return null;
    const active = currentContext();
    const fromCurrent = active ? given(active.context[field]) : null;
    if (active && fromCurrent !== null) {
      return { value: fromCurrent, from: `context '${active.name}'`, context: active.name } satisfies Found;
    }
    return null;
  };

  const url = pick(globals.url, '--url', 'FLEET_URL');
  if (url === null) {
    throw new UsageError(
      `no server URL: set FLEET_URL (e.g. http://127.0.0.1:8080), pass --url, or add a context: ${SET_CONTEXT_HINT}`,
    );
  }
  const token = pick(globals.token, '--token', 'FLEET_TOKEN');
  if (token === null) {
    const context = named?.name ?? url.context;
    throw new UsageError(
      context !== null
        ? `no admin token: context '${context}' has none; set FLEET_TOKEN, pass --token, or: fleet config set-context ${context} --token TOKEN`
        : `no admin token: set FLEET_TOKEN, pass --token, or add a context: ${SET_CONTEXT_HINT}`,
    );
  }
  try {
    endpointsOf(url.value);
  } catch {
    throw new UsageError(
      `invalid server URL '${url.value}' (from ${url.from}): expected http(s)://host:port`,
    );
  }
  return {
    url: url.value,
    token: token.value,
    urlFrom: url.from,
    tokenFrom: token.from,
    context: url.context ?? token.context,
  };
}

/** The connection a failed command used (or would have), for its error message; null if unknown. */
export function configForErrors(globals: GlobalOptions, env: FleetIO['env']): Config | null {
  try {
    return resolveConfig(globals, env);
  } catch {
    return null;
  }
}

/** One command invocation: its global options, its output streams, and its connection. */
export class Session {
  readonly json: boolean;
  /** Colours for stdout (none off a TTY). */
  readonly c: Colors;
  /** Colours for stderr (none off a TTY). */
  readonly ce: Colors;
  private baseUrl: string | null = null;

  constructor(
    readonly io: FleetIO,
    readonly globals: GlobalOptions,
  ) {
    this.json = globals.json === true;
    this.c = this.colorsFor(io.stdout);
    this.ce = this.colorsFor(io.stderr);
  }

  /** Colours for a stream: only on a terminal, and never with NO_COLOR, TERM=dumb or --no-color. */
  colorsFor(stream: OutStream): Colors {
    return colorsFor(stream, this.io.env, this.globals.color === false);
  }

  /** The terminal's width when stdout is one (tables are fitted to it); null when piped. */
  get width(): number | null {
    return terminalWidth(this.io.stdout, this.io.env);
  }

  /** An aligned table, fitted to the terminal's width on a TTY, full width when piped. */
  table(
    head: readonly string[],
    rows: ReadonlyArray<ReadonlyArray<string | number>>,
    align: readonly Align[] = [],
  ): string {
    return table(head, rows, this.c, align, this.width);
  }

  /**
   * A free-text cell on one line: on a terminal at most `max` characters (`…` marks the cut),
   * in full when piped, so scripts get everything.
   */
  cell(text: string, max: number): string {
    return this.width !== null ? truncate(text, max) : oneLine(text);
  }

  static of(io: FleetIO, command: Command): Session {
    return new Session(io, command.optsWithGlobals<GlobalOptions>());
  }

  now(): number {
    return (this.io.now ?? Date.now)();
  }

  /** The pod URL in use, once a client was opened (for error messages). */
  get url(): string | null {
    return this.baseUrl;
  }

  /**
   * A line of human output on stdout. Never used in --json mode. Control characters in it are
   * shown escaped (terminalLines): all human output from the store ends up here or in a table.
   */
  print(text: string): void {
    this.io.stdout.write(`${terminalLines(text, this.c)}\n`);
  }

  /** A side note on stderr (hints, empty results); suppressed in --json mode. */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${terminalLines(this.ce.dim(text), this.ce)}\n`);
  }

  /**
   * The single JSON document of a --json run. JSON.stringify escapes C0 controls; DEL, C1 and
   * bidi characters are escaped as \uXXXX too, so the document is safe to print as it is.
   */
  emitJson(value: unknown): void {
    this.io.stdout.write(`${escapeJsonControls(JSON.stringify(value, null, 2))}\n`);
  }

  /**
   * One compact JSON object on a line of its own (NDJSON): only for `events --follow --json`,
   * the one command that prints a stream of documents instead of exactly one.
   */
  emitJsonLine(value: unknown): void {
    this.io.stdout.write(`${escapeJsonControls(JSON.stringify(value))}\n`);
  }

  /** Human output, or the given value as the JSON document. */
  output(value: unknown, human: () => string | null): void {
    if (this.json) {
      this.emitJson(value);
      return;
    }
    const text = human();
    if (text !== null) this.print(text);
  }

  /** The pod URL and token (a usage error if either is missing); remembers the URL for error messages. */
  config(): Config {
    const config = resolveConfig(this.globals, this.io.env);
    this.baseUrl = config.url;
    return config;
  }

  /** Opens a client (after validating the config, so nothing is sent on a usage error) and closes it after. */
  async withClient<T>(fn: (client: FleetClient) => Promise<T>): Promise<T> {
    const config = this.config();
    const connect = this.io.connect ?? createAdminClient;
    const { client, close } = connect(config.url, config.token);
    try {
      return await fn(client);
    } finally {
      close();
    }
  }
}

/** A TTY's width in columns (its own, else $COLUMNS, else 80); null for a pipe or file. */
export function terminalWidth(stream: OutStream, env: FleetIO['env']): number | null {
  if (stream.isTTY !== true) return null;
  if (stream.columns !== undefined && stream.columns > 0) return stream.columns;
  const columns = Number(env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : 80;
}
