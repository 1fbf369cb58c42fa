import { hasControls } from '@camfleet/present';
import { describe, expect, it } from 'vitest';
import { deviceFixture, hasAnsi, run, serverError } from '../../test-helpers.js';

/** What an older version stored unchecked: a model that clears the screen, retitles it and rings. */
const HOSTILE_MODEL = 'cam\u001b[2J\u001b]0;owned\u0007';
const SHOWN = 'cam\\u001b[2J\\u001b]0;owned\\u0007';

const page = () => ({
  devices: [
    deviceFixture('cam-1', {
      model: HOSTILE_MODEL,
      firmwareVersion: '1.0\u009b31m',
      labels: { site: 'north\u202eevil' },
    }),
    deviceFixture('cam-2', { model: 'Kamera Süd 北' }),
  ],
  nextCursor: null,
});

describe('fleet devices list: stored control characters are shown, never obeyed', () => {
  it('a piped table shows them escaped as \\uXXXX and keeps ordinary Unicode', async () => {
    const r = await run(['devices', 'list'], { routes: { 'devices.list': page } });
    expect(r.code).toBe(0);
    expect(hasControls(r.stdout.replaceAll('\n', ''))).toBe(false);
    expect(r.stdout).toContain(SHOWN);
    expect(r.stdout).toContain('1.0\\u009b31m');
    expect(r.stdout).toContain('site=north\\u202eevil');
    expect(r.stdout).toContain('Kamera Süd 北');
  });

  it('on a terminal with colours, only the CLI’s own colour codes are left', async () => {
    const r = await run(['devices', 'list'], {
      routes: { 'devices.list': page },
      tty: true,
      env: {
        FLEET_URL: 'http://fleet.test:8080',
        FLEET_TOKEN: 'secret',
        TERM: 'xterm',
      },
    });
    expect(r.code).toBe(0);
    expect(hasAnsi(r.stdout)).toBe(true);
    expect(r.stdout).toContain(SHOWN);
    expect(r.stdout).not.toContain('\u001b[2J');
    expect(r.stdout).not.toContain('\u001b]0;');
    expect(r.stdout).not.toContain('\u0007');
    // Every escape left is a colour (SGR) code.
    expect(r.stdout.replace(new RegExp(`${String.fromCharCode(0x1b)}\\[\\d+m`, 'g'), '')).not.toContain(
      '\u001b',
    );
  });

  it('fleet device show escapes the detail view too', async () => {
    const detail = { device: page().devices[0], deliveries: [], history: [] };
    const r = await run(['devices', 'show', 'cam-1'], { routes: { 'devices.get': () => detail } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(SHOWN);
    expect(hasControls(r.stdout.replaceAll('\n', ''))).toBe(false);
  });

  it('--json keeps the value (it parses back to it) but writes every control as \\uXXXX', async () => {
    const r = await run(['devices', 'list', '--json'], { routes: { 'devices.list': page } });
    expect(r.code).toBe(0);
    expect(hasControls(r.stdout.replaceAll('\n', ''))).toBe(false);
    expect(r.stdout).toContain('"model": "cam\\u001b[2J\\u001b]0;owned\\u0007"');
    expect(r.stdout).toContain('"firmwareVersion": "1.0\\u009b31m"');
    expect(r.stdout).toContain('"site": "north\\u202eevil"');
    const parsed = JSON.parse(r.stdout) as ReturnType<typeof page>;
    expect(parsed.devices[0]?.model).toBe(HOSTILE_MODEL);
    expect(parsed.devices[1]?.model).toBe('Kamera Süd 北');
  });

  it('an error message quoting stored text is escaped on stderr', async () => {
    const r = await run(['devices', 'list'], {
      routes: {
        'devices.list': () => {
          throw serverError('BAD_REQUEST', null, `bad thing\u001b]0;owned\u0007`, 400);
        },
      },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('bad thing\\u001b]0;owned\\u0007');
    expect(hasControls(r.stderr.replaceAll('\n', ''))).toBe(false);
  });
});
