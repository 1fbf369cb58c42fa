/** Events the events tests share: a rollout created, a delivery queued, offered and failed, the rollout paused. */
import { deliveryEventFixture, NOW, rolloutEventFixture } from '../../test-helpers.js';

export const created = rolloutEventFixture('1740830340000-0/g');
export const queued = deliveryEventFixture('1740830370000-0/b1', { from: null, to: 'queued', attempt: 0 });
export const offered = deliveryEventFixture('1740830370000-1/b1', { from: 'queued', to: 'offered' });
export const failed = deliveryEventFixture('1740830371000-0/b2', {
  at: NOW - 29_000,
  deviceId: 'cam-22',
  from: 'installing',
  to: 'failed',
  attempt: 3,
  error: 'checksum mismatch',
});
export const paused = rolloutEventFixture('1740830372000-0/g', {
  at: NOW - 28_000,
  type: 'paused',
  actor: 'bob',
  reason: 'maintenance window',
});
export const history = [created, queued, offered, failed, paused];
