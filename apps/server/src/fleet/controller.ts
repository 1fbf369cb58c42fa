import { evalClaim, evalSettle } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { decide, SCHEDULE_ACTOR } from './gates.js';
import type { Rollouts } from './rollouts.js';

const FALLBACK_MS = 5_000;
const ACTOR = 'camfleet';

/**
 * Rollout gates, evaluated by whichever pod claims a rollout from the evaluation queue: failure
 * thresholds trip (pause or abort), waves open when the open one succeeded enough and soaked.
 * A rollout is queued when one of its deliveries finishes, when an operator acts, when its soak
 * ends, and at least every few seconds while it is live.
 */
export class RolloutController {
  constructor(
    private readonly deps: FleetDeps,
    private readonly rollouts: Rollouts,
  ) {}

  /** One round: evaluates every rollout due now. Returns true if more may be due. */
  async round(batch = 20): Promise<boolean> {
    const due = await this.deps.scripts.run(evalClaim, { limit: batch, fallbackMs: FALLBACK_MS });
    for (const rolloutId of due) await this.evaluate(rolloutId);
    return due.length === batch;
  }

  async evaluate(rolloutId: string): Promise<void> {
    const log = this.deps.log.child({ rolloutId });
    const { status, facts } = await this.rollouts.view(rolloutId);
    // Each evaluation is a point of the rollout's counts over time (when they changed).
    await this.rollouts.record(status);
    if (!facts) {
      // Ended (canceled or aborted): nothing left to judge.
      await this.deps.redis.zrem(this.deps.keys.evalQueue, rolloutId);
      log.debug('rollout no longer live; not evaluated again');
      return;
    }
    const decision = decide(facts);
    const wave = String(facts.openWave);
    log.trace({ decision: decision.action, wave: facts.openWave }, 'rollout gates evaluated');
    switch (decision.action) {
      case 'trip':
        await this.rollouts.transition(
          rolloutId,
          facts.rollout.onFailure === 'abort' ? 'abort' : 'pause',
          ACTOR,
          decision.reason,
        );
        log.warn(
          { reason: decision.reason, action: facts.rollout.onFailure },
          'rollout tripped its failure threshold',
        );
        return;
      case 'met':
        if (await this.rollouts.transition(rolloutId, 'met', ACTOR, '', wave)) {
          log.info({ wave: facts.openWave, soakMs: facts.rollout.soakMs }, 'wave met its threshold; soaking');
        }
        await this.deps.redis.zadd(this.deps.keys.evalQueue, facts.now + facts.rollout.soakMs, rolloutId);
        return;
      case 'open':
        if (await this.rollouts.transition(rolloutId, 'open', ACTOR, '', wave)) {
          log.info({ wave: facts.openWave + 1 }, 'wave opened');
        }
        return;
      case 'start':
        if (await this.rollouts.transition(rolloutId, 'start', SCHEDULE_ACTOR, 'its schedule started it'))
          log.info({ startAt: facts.rollout.startAt }, 'scheduled rollout started');
        return;
      case 'end': {
        const finish = facts.rollout.atEnd === 'finish';
        const reason = finish
          ? 'its schedule ended it: nothing new starts, what is in flight finishes'
          : 'its schedule ended it: what was still open is canceled';
        if (await this.rollouts.transition(rolloutId, 'end', SCHEDULE_ACTOR, reason, '', finish))
          log.info({ endBy: facts.rollout.endBy, atEnd: facts.rollout.atEnd }, 'scheduled rollout ended');
        return;
      }
      case 'wait':
        if (decision.until !== null && decision.until < facts.now + FALLBACK_MS) {
          await this.deps.redis.zadd(this.deps.keys.evalQueue, decision.until, rolloutId);
        } else if (decision.until === null && status.status === 'completed') {
          // Nothing open, nothing to judge: not evaluated every few seconds for good (finished
          // rollouts would cost more with each one). A delivery finishing or an operator queues it.
          await this.deps.scripts.run(evalSettle, {
            rolloutId,
            seenAt: facts.now,
            snapshot: facts.rollout.snapshot,
          });
        }
        return;
    }
  }
}
