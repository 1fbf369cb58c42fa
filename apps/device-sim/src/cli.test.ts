import { describe, expect, it } from 'vitest';
import { EXIT_BAD_FLAGS, EXIT_REJECTED, exitCodeOf, parseCli } from './cli.js';

const URL = 'http://127.0.0.1:4000';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseCli(args, env);
  if (parsed.kind !== 'run') throw new Error(`expected options, got exit ${parsed.code}: ${parsed.output}`);
  return parsed.options;
}

function exit(args: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseCli(args, env);
  if (parsed.kind !== 'exit') throw new Error('expected an exit');
  return parsed;
}

describe('parseCli', () => {
  it('applies defaults', () => {
    const options = run(['--url', URL, '--token', 't']);
    expect(options).toMatchObject({
      urls: [URL],
      devices: 10,
      prefix: 'cam',
      model: 'cam-x',
      firmware: '1.0.0',
      labels: {},
      enrollToken: 't',
      credentialsFile: null,
      summaryFile: null,
      exitWhenIdleMs: null,
      quiet: false,
    });
    expect(options.faults).toMatchObject({
      applyMs: 500,
      failRate: 0,
      crashRate: 0,
      disconnectRate: 0,
      hangRate: 0,
      reboot: true,
      rebootMs: 300,
      rollbackRate: 0,
      refuseCancelRate: 0,
      dropDownloadRate: 0,
      installWindow: 'obey',
    });
    expect(options).toMatchObject({ trustedKeyFiles: [], requireSignature: false });
  });

  it('parses every flag', () => {
    const options = run([
      '--url',
      `${URL}, http://10.0.0.2:4000/`,
      '--devices',
      '250',
      '--prefix',
      'lab',
      '--model',
      'cam-y',
      '--firmware',
      '0.9.1',
      '--labels',
      'site=berlin,tier=canary',
      '--enroll-token',
      'secret',
      '--credentials',
      'creds.json',
      '--apply-ms',
      '2s',
      '--download-ms',
      '50ms',
      '--fail-rate',
      '0.25',
      '--slow-rate',
      '0.1',
      '--slow-ms',
      '3000',
      '--crash-rate',
      '0.05',
      '--crash-downtime-ms',
      '1.5s',
      '--disconnect-rate',
      '0.01',
      '--hang-rate',
      '0.02',
      '--reboot-ms',
      '1s',
      '--rollback-rate',
      '0.1',
      '--refuse-cancel-rate',
      '0.3',
      '--drop-download-rate',
      '0.4',
      '--install-window',
      'ignore',
      '--trusted-keys',
      'keys/old.pub.pem, keys/new.pub.pem',
      '--require-signature',
      '--image-dir',
      'images',
      '--firmware-image',
      'fw-0.9.1.bin',
      '--stagger-ms',
      '0',
      '--summary',
      'out.json',
      '--exit-when-idle',
      '10s',
      '--quiet',
    ]);
    expect(options).toEqual({
      urls: [URL, 'http://10.0.0.2:4000/'],
      devices: 250,
      prefix: 'lab',
      model: 'cam-y',
      firmware: '0.9.1',
      labels: { site: 'berlin', tier: 'canary' },
      enrollToken: 'secret',
      credentialsFile: 'creds.json',
      faults: {
        downloadMs: 50,
        applyMs: 2000,
        failRate: 0.25,
        slowRate: 0.1,
        slowMs: 3000,
        crashRate: 0.05,
        crashDowntimeMs: 1500,
        disconnectRate: 0.01,
        hangRate: 0.02,
        reboot: true,
        rebootMs: 1000,
        rollbackRate: 0.1,
        refuseCancelRate: 0.3,
        dropDownloadRate: 0.4,
        installWindow: 'ignore',
      },
      trustedKeyFiles: ['keys/old.pub.pem', 'keys/new.pub.pem'],
      requireSignature: true,
      imageDir: 'images',
      firmwareImage: 'fw-0.9.1.bin',
      holdInstallsFile: null,
      staggerMs: 0,
      summaryFile: 'out.json',
      exitWhenIdleMs: 10_000,
      quiet: true,
    });
  });

  it('applies patches without a restart with --no-reboot', () => {
    const options = run(['--url', URL, '--token', 't', '--no-reboot', '--refuse-cancel-rate', '1']);
    expect(options.faults).toMatchObject({ reboot: false, rollbackRate: 0, refuseCancelRate: 1 });
    expect(run(['--url', URL, '--token', 't', '--no-reboot', '--rollback-rate', '0']).faults.reboot).toBe(
      false,
    );
  });

  it('keeps images with --image-dir; --firmware-image needs it', () => {
    expect(run(['--url', URL, '--token', 't'])).toMatchObject({ imageDir: null, firmwareImage: null });
    expect(exit(['--url', URL, '--token', 't', '--firmware-image', 'fw.bin'])).toMatchObject({
      code: EXIT_BAD_FLAGS,
      output: expect.stringMatching(/--firmware-image needs --image-dir/),
    });
  });

  it('takes trusted keys without requiring signatures, but not the other way round', () => {
    expect(run(['--url', URL, '--token', 't', '--trusted-keys', 'a.pem'])).toMatchObject({
      trustedKeyFiles: ['a.pem'],
      requireSignature: false,
    });
    const parsed = exit(['--url', URL, '--token', 't', '--require-signature']);
    expect(parsed).toMatchObject({
      code: EXIT_BAD_FLAGS,
      output: expect.stringMatching(/needs --trusted-keys/),
    });
  });

  it('holds installs until a file exists with --hold-installs, and wants a file name', () => {
    expect(run(['--url', URL, '--token', 't', '--hold-installs', 'go']).holdInstallsFile).toBe('go');
    expect(run(['--url', URL, '--token', 't']).holdInstallsFile).toBeNull();
    expect(exit(['--url', URL, '--token', 't', '--hold-installs', ' '])).toMatchObject({
      code: EXIT_BAD_FLAGS,
      output: expect.stringMatching(/--hold-installs needs a file name/),
    });
  });

  it('defaults --exit-when-idle to 5000 when given without a value', () => {
    expect(run(['--url', URL, '--token', 't', '--exit-when-idle']).exitWhenIdleMs).toBe(5000);
    expect(run(['--exit-when-idle', '--url', URL, '--token', 't']).exitWhenIdleMs).toBe(5000);
  });

  it('falls back to FLEET_URL and FLEET_ENROLL_TOKEN', () => {
    const options = run([], { FLEET_URL: `${URL},http://b:1`, FLEET_ENROLL_TOKEN: 'env-token' });
    expect(options.urls).toEqual([URL, 'http://b:1']);
    expect(options.enrollToken).toBe('env-token');
    const env = { FLEET_URL: URL, FLEET_ENROLL_TOKEN: 'env' };
    expect(run(['--enroll-token', 'flag'], env).enrollToken).toBe('flag');
    expect(run(['--token', 'old-flag'], env).enrollToken).toBe('old-flag');
    expect(run(['--credentials', 'c.json'], env)).toMatchObject({
      enrollToken: 'env',
      credentialsFile: 'c.json',
    });
  });

  it('takes --enroll-token, the deprecated --token, --credentials, or a mix', () => {
    expect(run(['--url', URL, '--enroll-token', 'e'])).toMatchObject({
      enrollToken: 'e',
      credentialsFile: null,
    });
    expect(run(['--url', URL, '--token', 'e'])).toMatchObject({ enrollToken: 'e', credentialsFile: null });
    expect(run(['--url', URL, '--token', 'e', '--enroll-token', 'e']).enrollToken).toBe('e');
    expect(run(['--url', URL, '--credentials', 'c.json'])).toMatchObject({
      enrollToken: null,
      credentialsFile: 'c.json',
    });
    expect(run(['--url', URL, '--credentials', 'c.json', '--enroll-token', 'e'])).toMatchObject({
      enrollToken: 'e',
      credentialsFile: 'c.json',
    });
    // An empty FLEET_ENROLL_TOKEN is no token.
    expect(run(['--url', URL, '--credentials', 'c.json'], { FLEET_ENROLL_TOKEN: '' }).enrollToken).toBeNull();
  });

  it('needs an enrollment token or a credentials file (exit 2)', () => {
    for (const env of [{}, { FLEET_ENROLL_TOKEN: '' }]) {
      const parsed = exit(['--url', URL], env);
      expect(parsed.code).toBe(EXIT_BAD_FLAGS);
      expect(parsed.output).toMatch(/--enroll-token .*--credentials is required/);
    }
  });

  it('exits 5 when any device was rejected for its credentials', () => {
    expect([exitCodeOf(0), exitCodeOf(1), exitCodeOf(7)]).toEqual([0, EXIT_REJECTED, EXIT_REJECTED]);
    expect(EXIT_REJECTED).toBe(5);
  });

  it.each([
    [['--token', 't'], /--url/],
    [['--url', URL], /--enroll-token/],
    [['--url', URL, '--token', 'a', '--enroll-token', 'b'], /deprecated alias/],
    [['--url', URL, '--enroll-token', ' '], /--enroll-token is empty/],
    [['--url', URL, '--credentials', ''], /--credentials needs a file/],
    [['--url', URL, '--credentials'], /argument missing/],
    [['--url', 'ws://host:1', '--token', 't'], /not an http/],
    [['--url', 'nonsense', '--token', 't'], /not an http/],
    [['--url', ' , ', '--token', 't'], /at least one URL/],
    [['--url', URL, '--token', 't', '--devices', '0'], /integer from 1/],
    [['--url', URL, '--token', 't', '--devices', '2.5'], /integer/],
    [['--url', URL, '--token', 't', '--devices', 'ten'], /integer/],
    [['--url', URL, '--token', 't', '--fail-rate', '1.5'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--crash-rate', '-0.1'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--hang-rate', '2'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--apply-ms', 'soon'], /duration/],
    [['--url', URL, '--token', 't', '--reboot-ms', 'soon'], /duration/],
    [['--url', URL, '--token', 't', '--reboot-ms', '-1'], /duration/],
    [['--url', URL, '--token', 't', '--rollback-rate', '1.1'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--rollback-rate', 'often'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--refuse-cancel-rate', '-1'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--refuse-cancel-rate', ''], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--drop-download-rate', '1.5'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--drop-download-rate', 'sometimes'], /from 0 to 1/],
    [['--url', URL, '--token', 't', '--trusted-keys', ' , '], /at least one file/],
    [['--url', URL, '--token', 't', '--trusted-keys'], /argument missing/],
    [['--url', URL, '--token', 't', '--require-signature', 'yes'], /too many arguments|excess/i],
    [
      ['--url', URL, '--token', 't', '--no-reboot', '--rollback-rate', '0.2'],
      /--rollback-rate needs restarts/,
    ],
    [
      ['--url', URL, '--token', 't', '--rollback-rate', '0.2', '--no-reboot'],
      /--rollback-rate needs restarts/,
    ],
    [['--url', URL, '--token', 't', '--reboot'], /unknown option/],
    [['--url', URL, '--token', 't', '--disconnect-rate', 'x'], /non-negative/],
    [['--url', URL, '--token', 't', '--labels', 'site'], /key=value/],
    [['--url', URL, '--token', 't', '--prefix', '-bad'], /--prefix/],
    [['--url', URL, '--token', 't', '--model', ''], /--model/],
    [['--url', URL, '--token', 't', '--frobnicate'], /unknown option/],
    [['--url', URL, '--token', 't', 'extra'], /too many arguments|excess/i],
    [['--url', URL, '--token', 't', '--exit-when-idle', 'later'], /duration/],
  ])('rejects %j with exit code 2', (args, message) => {
    const parsed = exit(args);
    expect(parsed.code).toBe(EXIT_BAD_FLAGS);
    expect(parsed.output).toMatch(message);
  });

  it('reports a bad FLEET_URL as a usage error', () => {
    const parsed = exit(['--token', 't'], { FLEET_URL: 'ftp://x' });
    expect(parsed).toMatchObject({ code: EXIT_BAD_FLAGS, output: expect.stringMatching(/FLEET_URL/) });
  });

  it('prints help with exit code 0', () => {
    const parsed = exit(['--help']);
    expect(parsed.code).toBe(0);
    expect(parsed.output).toMatch(/--exit-when-idle/);
    expect(parsed.output).toMatch(/--no-reboot/);
    expect(parsed.output).toMatch(/--refuse-cancel-rate/);
    expect(parsed.output).toMatch(/--drop-download-rate <p>/);
    expect(parsed.output).toMatch(/--trusted-keys <files>/);
    expect(parsed.output).toMatch(/--require-signature/);
    expect(parsed.output).toMatch(/--enroll-token <token>/);
    expect(parsed.output).toMatch(/--credentials <file>/);
    expect(parsed.output).toMatch(/--token <token> +deprecated alias of --enroll-token/);
  });
});
