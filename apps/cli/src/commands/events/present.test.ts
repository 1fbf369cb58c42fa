import { describe, expect, it } from 'vitest';
import { colorsFor } from '../../colors.js';
import { stripAnsi } from '../../table.js';
import { captured, deliveryEventFixture, hasAnsi, rolloutEventFixture } from '../../test-helpers.js';
import { eventDetail, eventRow, eventText } from './present.js';
import { created, failed, offered, paused, queued } from './test-fixtures.js';

const ID = 'ro_xyz789';
const plain = colorsFor(captured(false), {});

describe('event formatting', () => {
  it('shows a delivery event as a state change', () => {
    expect(eventText(deliveryEventFixture('1-0/b1'), plain)).toBe('offered → downloading');
    expect(eventText(queued, plain)).toBe('→ queued');
    expect(eventRow(failed, plain)).toEqual([
      '2025-03-01 11:59:31Z',
      ID,
      'cam-22',
      'installing → failed',
      '3',
      'checksum mismatch',
    ]);
    expect(eventRow(offered, plain)).toEqual([
      '2025-03-01 11:59:30Z',
      ID,
      'cam-1',
      'queued → offered',
      '1',
      '-',
    ]);
  });

  it('shows a rollout event by its type, counting waves from 1', () => {
    expect(eventText(created, plain)).toBe('created');
    expect(eventText(paused, plain)).toBe('paused');
    expect(eventText(rolloutEventFixture('1-0/g', { type: 'wave_opened', wave: 1 }), plain)).toBe(
      'wave 2 opened',
    );
    expect(eventText(rolloutEventFixture('1-0/g', { type: 'wave_met', wave: 0 }), plain)).toBe('wave 1 met');
    expect(eventText(rolloutEventFixture('1-0/g', { type: 'wave_opened', wave: null }), plain)).toBe(
      'wave opened',
    );
    for (const type of ['resumed', 'canceled', 'aborted'] as const) {
      expect(eventText(rolloutEventFixture('1-0/g', { type }), plain)).toBe(type);
    }
    expect(eventRow(paused, plain)).toEqual([
      '2025-03-01 11:59:32Z',
      ID,
      '-',
      'paused',
      '-',
      'by bob: maintenance window',
    ]);
  });

  it('puts the error, or who and why, in the detail', () => {
    expect(eventDetail(failed)).toBe('checksum mismatch');
    expect(eventDetail(offered)).toBeNull();
    expect(eventDetail(deliveryEventFixture('1-0/b1', { error: '  ' }))).toBeNull();
    expect(eventDetail(created)).toBe('by alice');
    expect(eventDetail(paused)).toBe('by bob: maintenance window');
    expect(eventDetail(rolloutEventFixture('1-0/g', { actor: '', reason: 'threshold' }))).toBe('threshold');
    expect(eventDetail(rolloutEventFixture('1-0/g', { actor: '', reason: null }))).toBeNull();
  });

  it('keeps a long error to one short line', () => {
    const row = eventRow(deliveryEventFixture('1-0/b1', { error: `boot\nloop ${'x'.repeat(100)}` }), plain);
    expect(row[5]).toMatch(/^boot loop x+…$/);
    expect(row[5]).toHaveLength(60);
  });

  it('colours the states and the rollout events on a terminal only', () => {
    const c = colorsFor(captured(true), {});
    expect(hasAnsi(eventText(failed, c))).toBe(true);
    expect(stripAnsi(eventText(failed, c))).toBe('installing → failed');
    expect(stripAnsi(eventText(paused, c))).toBe('paused');
    expect(hasAnsi(eventText(failed, plain))).toBe(false);
  });
});
