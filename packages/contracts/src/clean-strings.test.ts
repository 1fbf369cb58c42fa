import { describe, expect, it } from 'vitest';
import { LegacyAnswer } from './legacy.js';
import { CreateEnrollTokenInput, CreateTokenInput, ProvisionInput } from './routers/access.schema.js';
import { RegisterInput, ReportInput } from './routers/device.schema.js';
import { DeviceIdInput, ListDevicesInput } from './routers/devices.schema.js';
import { PublishPatchInput } from './routers/patch.schema.js';
import { CreateRolloutInput, RolloutActionInput } from './routers/rollout.schema.js';
import { DeviceId, Labels, StoredDeviceId, safeText, uncleanText } from './schemas.js';

/** One of each class of character no client text may hold. */
const BAD: Array<[string, string]> = [
  ['NUL', '\u0000'],
  ['BEL', '\u0007'],
  ['ESC (a terminal escape)', '\u001b[2J'],
  ['LF', '\n'],
  ['DEL', '\u007f'],
  ['C1 CSI', '\u009b'],
  ['C1 NEL', '\u0085'],
  ['bidi embedding', '\u202a'],
  ['bidi override', '\u202e'],
  ['bidi isolate', '\u2066'],
  ['bidi pop isolate', '\u2069'],
  ['lone high surrogate', '\ud83d'],
  ['lone low surrogate', '\ude00'],
];

const messages = (result: { success: boolean; error?: { issues: Array<{ message: string }> } }) =>
  result.success ? [] : (result.error?.issues.map((i) => i.message) ?? []);

describe('safe text', () => {
  it.each(BAD)('refuses %s with a readable message', (_, bad) => {
    const result = safeText(64).safeParse(`cam${bad}x`);
    expect(result.success).toBe(false);
    expect(messages(result).join()).toMatch(
      /control characters are not allowed|bidirectional control characters are not allowed|invalid UTF-16/,
    );
  });

  it('names the character and where it is', () => {
    expect(uncleanText('cam\u001b[2J')).toBe('control characters are not allowed (U+001B at 3)');
    expect(uncleanText('a\u202eb')).toBe('bidirectional control characters are not allowed (U+202E at 1)');
    expect(uncleanText('x\ud800')).toBe('invalid UTF-16: a lone surrogate at 1');
  });

  it('accepts ordinary Unicode: accents, CJK, emoji (a surrogate pair), spaces, ZWJ', () => {
    for (const text of ['Kamera Süd 北', 'café-ñ', 'セキュリティカメラ', 'cam 📷', '👩‍🔧 crew', 'a\u00a0b']) {
      expect(uncleanText(text)).toBeNull();
      expect(
        RegisterInput.safeParse({ model: text, firmwareVersion: '1.0', labels: { site: text } }).success,
      ).toBe(true);
    }
  });
});

describe('every client-supplied string is guarded', () => {
  const attack = 'cam\u001b[2J\u001b]0;owned\u0007';
  const fields: Array<[string, () => { success: boolean }]> = [
    ['register model', () => RegisterInput.safeParse({ model: attack, firmwareVersion: '1' })],
    ['register firmware', () => RegisterInput.safeParse({ model: 'm', firmwareVersion: attack })],
    [
      'label value',
      () => RegisterInput.safeParse({ model: 'm', firmwareVersion: '1', labels: { site: attack } }),
    ],
    ['label key', () => Labels.safeParse({ [attack]: 'x' })],
    ['label value (bidi)', () => Labels.safeParse({ site: 'north\u202eevil' })],
    [
      'report firmware',
      () =>
        ReportInput.safeParse({
          deliveryId: 'ro_1:cam-1',
          attempt: 1,
          status: 'succeeded',
          firmwareVersion: attack,
        }),
    ],
    [
      'report error',
      () => ReportInput.safeParse({ deliveryId: 'ro_1:cam-1', attempt: 1, status: 'failed', error: attack }),
    ],
    [
      'delivery id',
      () => ReportInput.safeParse({ deliveryId: `ro_1:${attack}`, attempt: 1, status: 'installing' }),
    ],
    ['provision model', () => ProvisionInput.safeParse({ deviceId: 'cam-1', model: attack })],
    ['patch notes', () => PublishPatchInput.safeParse({ name: 'fw', version: '1', notes: attack })],
    ['patch name', () => PublishPatchInput.safeParse({ name: attack, version: '1' })],
    ['patch version', () => PublishPatchInput.safeParse({ name: 'fw', version: attack })],
    ['rollout reason', () => RolloutActionInput.safeParse({ rolloutId: 'ro_1', reason: attack })],
    [
      'rollout selector',
      () =>
        CreateRolloutInput.safeParse({
          patchId: 'pat_1',
          target: { kind: 'selector', selector: 'site=a\u202e' },
        }),
    ],
    ['selector in list', () => ListDevicesInput.safeParse({ selector: 'site\u0000' })],
    ['token name', () => CreateTokenInput.safeParse({ name: attack, role: 'viewer' })],
    ['enroll token name', () => CreateEnrollTokenInput.safeParse({ name: attack })],
    [
      'legacy answer device id',
      () => LegacyAnswer.safeParse({ status: 'success', device_id: attack, update: {} }),
    ],
  ];
  it.each(fields)('%s', (_, parse) => {
    expect(parse().success).toBe(false);
  });
});

describe('report error messages (free text)', () => {
  const report = (error: string) =>
    ReportInput.safeParse({ deliveryId: 'ro_1:cam-1', attempt: 1, status: 'failed', error });

  it('turns tab, CR and LF into spaces', () => {
    const result = report('flash failed:\n\tsector 7\r\nretrying');
    expect(result.success).toBe(true);
    expect(result.data?.error).toBe('flash failed:  sector 7  retrying');
  });

  it('still refuses every other control', () => {
    for (const [, bad] of BAD.filter(([name]) => name !== 'LF')) {
      const result = report(`disk${bad}full`);
      expect(result.success).toBe(false);
    }
    expect(messages(report('x\u001b[2J')).join()).toContain('control characters are not allowed');
  });

  it('keeps ordinary Unicode', () => {
    expect(report('Prüfsumme falsch 北').data?.error).toBe('Prüfsumme falsch 北');
  });
});

describe('ids: letters, digits and . _ -, starting with a letter or digit, 1–128', () => {
  it('accepts every allowed character class', () => {
    for (const id of ['Cam-01.a_b', 'a', '0', 'x'.repeat(128), 'CAM_7.site-north']) {
      expect(DeviceId.safeParse(id).success).toBe(true);
    }
  });

  it('refuses ":" (it separates id and secret in Device <id>:<secret> and Basic) with a clear message', () => {
    const result = DeviceId.safeParse('cam:1');
    expect(result.success).toBe(false);
    expect(messages(result).join()).toBe('letters, digits and . _ - only, starting with a letter or digit');
  });

  it('refuses other characters, a leading symbol, empty and too long', () => {
    for (const id of [
      '',
      '-cam',
      '.cam',
      '_cam',
      'cam 1',
      'cam/1',
      'cam@1',
      'cam+1',
      'kamera-süd',
      'x'.repeat(129),
    ]) {
      expect(DeviceId.safeParse(id).success).toBe(false);
    }
  });

  it('still lets operators name a device an older version stored with ":" (get, rotate, revoke)', () => {
    expect(StoredDeviceId.safeParse('old:cam').success).toBe(true);
    expect(DeviceIdInput.safeParse({ deviceId: 'old:cam' }).success).toBe(true);
    expect(DeviceIdInput.safeParse({ deviceId: 'old\u001bcam' }).success).toBe(false);
    expect(ProvisionInput.safeParse({ deviceId: 'old:cam' }).success).toBe(false);
    expect(
      CreateRolloutInput.safeParse({ patchId: 'pat_1', target: { kind: 'devices', deviceIds: ['a:b'] } })
        .success,
    ).toBe(false);
  });

  it('patch and token names follow the same rule plus their extras', () => {
    expect(PublishPatchInput.safeParse({ name: 'Cam fw+hdr', version: '1.2.3+build.7' }).success).toBe(true);
    expect(PublishPatchInput.safeParse({ name: 'cam:fw', version: '1' }).success).toBe(false);
    expect(PublishPatchInput.safeParse({ name: 'fw', version: '1 2' }).success).toBe(false);
    expect(CreateTokenInput.safeParse({ name: 'ci@build-01.lan', role: 'viewer' }).success).toBe(true);
    expect(CreateTokenInput.safeParse({ name: 'ci:build', role: 'viewer' }).success).toBe(false);
    expect(CreateTokenInput.safeParse({ name: '@ci', role: 'viewer' }).success).toBe(false);
  });
});
