import { describe, expect, it } from 'vitest';
import { EventId, FollowEventsInput } from './events.schema.js';

describe('event ids', () => {
  it('takes the ids the server hands out, and refuses what it could not resume from', () => {
    for (const id of ['1733450000000-0/g', '1733450000000-17/b63'])
      expect(EventId.safeParse(id).success).toBe(true);
    for (const id of ['abc/g', '0-0', '1733450000000-0/x1', '1-0/b1/b2', '1-0/b12345'])
      expect(EventId.safeParse(id).success, id).toBe(false);
    expect(FollowEventsInput.safeParse({ lastEventId: 'abc/g' }).success).toBe(false);
  });
});
