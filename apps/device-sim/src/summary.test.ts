import { describe, expect, it } from 'vitest';
import { formatEvent, formatRejections, Reporter } from './output.js';
import { emptyCounters, formatBytes, formatSummaryLine, summarize } from './summary.js';

describe('summarize', () => {
  it('sums device counters and counts states', () => {
    const summary = summarize([
      {
        counters: { ...emptyCounters(), installsDone: 2, offersReceived: 3 },
        connected: true,
        rejected: false,
        firmwareVersion: '2.0',
      },
      {
        counters: { ...emptyCounters(), installsDone: 1, offersReceived: 1 },
        connected: false,
        rejected: true,
        firmwareVersion: '1.0',
      },
      { counters: emptyCounters(), connected: true, rejected: false, firmwareVersion: '2.0' },
    ]);
    expect(summary).toMatchObject({
      devices: 3,
      connected: 2,
      rejectedDevices: 1,
      installsDone: 3,
      offersReceived: 4,
      installsRepeated: 0,
      firmware: { '2.0': 2, '1.0': 1 },
    });
  });

  it('formats a compact line that shouts about repeats', () => {
    const quiet = summarize([]);
    expect(formatSummaryLine(quiet)).not.toMatch(/REPEATED/);
    expect(formatSummaryLine({ ...quiet, installsRepeated: 2 })).toMatch(/2 REPEATED/);
    expect(formatSummaryLine(quiet)).not.toMatch(/hung/);
    expect(formatSummaryLine({ ...quiet, installsHung: 3 })).toMatch(/3 hung/);
    expect(formatSummaryLine(quiet)).not.toMatch(/rolled back|cancels/);
    expect(formatSummaryLine({ ...quiet, rollbacks: 4 })).toMatch(/4 rolled back/);
    expect(formatSummaryLine({ ...quiet, cancelsAccepted: 2, cancelsRefused: 1 })).toMatch(
      /cancels 2 honoured, 1 refused/,
    );
  });

  it('sums the restart and cancel counters', () => {
    const counters = { ...emptyCounters(), reboots: 2, rollbacks: 1, cancelsAccepted: 1, cancelsIgnored: 3 };
    const one = { counters, connected: true, rejected: false, firmwareVersion: '1.0' };
    expect(summarize([one, one])).toMatchObject({
      reboots: 4,
      rollbacks: 2,
      cancelsAccepted: 2,
      cancelsRefused: 0,
      cancelsIgnored: 6,
    });
  });
});

describe('downloads and signatures in the summary', () => {
  it('sums the download counters and shows them when there were any', () => {
    const counters = {
      ...emptyCounters(),
      downloadBytes: 1536,
      downloadResumes: 2,
      checksumFailures: 1,
      signatureRefusals: 3,
    };
    const one = { counters, connected: true, rejected: false, firmwareVersion: '1.0' };
    const summary = summarize([one, one]);
    expect(summary).toMatchObject({
      downloadBytes: 3072,
      downloadResumes: 4,
      checksumFailures: 2,
      signatureRefusals: 6,
    });
    expect(formatSummaryLine(summary)).toMatch(
      /downloaded 3\.0 KiB \(4 resumed\) · 2 checksum failures · 6 signature refusals/,
    );
    expect(formatSummaryLine(summarize([]))).not.toMatch(/downloaded|checksum|signature/);
    expect([formatBytes(0), formatBytes(1023), formatBytes(5 * 1024 ** 3)]).toEqual([
      '0 B',
      '1023 B',
      '5.0 GiB',
    ]);
  });
});

describe('credentials in the summary', () => {
  it('counts enrollments and replaced devices, and names them on the line', () => {
    const one = {
      counters: { ...emptyCounters(), enrollments: 1, replaced: 1 },
      connected: false,
      rejected: false,
      firmwareVersion: '1.0',
    };
    const summary = summarize([one, one]);
    expect(summary).toMatchObject({ enrollments: 2, replaced: 2 });
    expect(formatSummaryLine(summary)).toMatch(/2 enrolled · 2 replaced/);
    expect(formatSummaryLine(summarize([]))).not.toMatch(/enrolled|replaced/);
  });

  it('lists the rejected devices by reason, a bounded number each', () => {
    expect(formatRejections([])).toBeNull();
    const ids = Array.from({ length: 5 }, (_, i) => ({
      id: `cam-${i}`,
      message: 'device credentials refused',
    }));
    expect(formatRejections([...ids, { id: 'x', message: 'no credentials' }], 3)).toBe(
      '6 devices rejected for credentials:\n' +
        '  device credentials refused: cam-0, cam-1, cam-2 … and 2 more\n' +
        '  no credentials: x\n',
    );
  });
});

describe('Reporter', () => {
  const done = {
    type: 'install-done',
    deviceId: 'cam-0001',
    deliveryId: 'd1',
    attempt: 1,
    version: '2.0',
  } as const;
  const rejected = (deviceId: string) => ({ type: 'rejected', deviceId, message: 'refused' }) as const;

  it('prints one line per notable event when piped, and a credential refusal only once', () => {
    let out = '';
    const reporter = new Reporter({ live: false, quiet: false, write: (text) => (out += text) });
    reporter.event(done);
    reporter.event({ type: 'connected', deviceId: 'cam-0001', url: 'http://x' });
    reporter.event(rejected('cam-0002'));
    reporter.event(rejected('cam-0003'));
    expect(out).toBe('cam-0001 installed 2.0 d1#1\ncam-0002 rejected by the server: refused\n');
  });

  it('keeps a live line on a TTY instead of event lines', () => {
    let out = '';
    const reporter = new Reporter({ live: true, quiet: false, write: (text) => (out += text) });
    reporter.event(done);
    reporter.status(summarize([]));
    expect(out.startsWith('\r\u001b[2Kdevices 0/0')).toBe(true);
    expect(out).not.toMatch(/installed/);
  });

  it('prints only the final line when quiet', () => {
    let out = '';
    const reporter = new Reporter({ live: false, quiet: true, write: (text) => (out += text) });
    reporter.event(done);
    reporter.final(summarize([]));
    expect(out.split('\n')).toHaveLength(2);
    expect(formatEvent({ type: 'crash', deviceId: 'x' })).toBeNull();
    expect(formatEvent({ ...done, type: 'install-hung' })).toBe(
      'cam-0001 install hung d1#1 (silent until the server retries)',
    );
  });

  it('has lines for rollbacks, refused cancels and canceled installs only', () => {
    const ref = { deviceId: 'cam-0001', deliveryId: 'd1', attempt: 2 } as const;
    expect(formatEvent({ ...ref, type: 'rebooted', version: '1.0', rolledBack: true })).toBe(
      'cam-0001 rolled back to 1.0 d1#2 (came back from the restart on the old firmware)',
    );
    expect(formatEvent({ ...ref, type: 'rebooted', version: '2.0', rolledBack: false })).toBeNull();
    expect(formatEvent({ ...ref, type: 'cancel', decision: 'refused', reason: 'rollout canceled' })).toBe(
      'cam-0001 refused to cancel d1#2 (too late to stop): rollout canceled',
    );
    expect(formatEvent({ ...ref, type: 'cancel', decision: 'accepted', reason: 'x' })).toBeNull();
    expect(formatEvent({ ...ref, type: 'cancel', decision: 'ignored', reason: 'x' })).toBeNull();
    expect(formatEvent({ ...ref, type: 'install-canceled' })).toBe('cam-0001 install canceled d1#2');
    expect(formatEvent({ type: 'enrolled', deviceId: 'cam-0001' })).toBeNull();
    expect(formatEvent({ type: 'replaced', deviceId: 'cam-0001', message: 'replaced (4002)' })).toBe(
      'cam-0001 stopped: replaced (4002)',
    );
  });
});
