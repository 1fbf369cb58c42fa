import type { IdCheck } from '@camfleet/contracts';
import type { Session } from '../../session.js';

/** The bad ids, one a row, with the rule each breaks (printed escaped, whatever they hold). */
export function idCheckTable(result: IdCheck, s: Session): string {
  return s.table(
    ['DEVICE ID', 'PROBLEM'],
    result.bad.map((b) => [b.deviceId, s.cell(b.problem, 90)]),
  );
}

/** One line: how many ids were read, how many break the rule, how many are listed. */
export function idCheckSummary(result: IdCheck): string {
  const ids = `${result.checked} device id${result.checked === 1 ? '' : 's'} checked`;
  if (result.badCount === 0) return `${ids}: all keep the rule`;
  const listed = result.bad.length < result.badCount ? ` (${result.bad.length} listed; raise --limit)` : '';
  return `${ids}: ${result.badCount} break the rule${listed}; re-provision them under new ids (fleet devices provision), then revoke the old ones`;
}
