import type { AuditEntry, AuditInput, AuditService } from '@camfleet/contracts';
import type { FleetDeps } from './deps.js';

/** Entries the audit stream keeps. */
export const AUDIT_MAX = 100_000;

/** Who did what: every mutating admin call (and artifact upload), in a capped stream. */
export class AuditLog implements AuditService {
  constructor(private readonly deps: FleetDeps) {}

  async record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.deps.redis.xadd(
      this.deps.keys.audit,
      'MAXLEN',
      '~',
      AUDIT_MAX,
      '*',
      'actor',
      entry.actor,
      'role',
      entry.role,
      'action',
      entry.action,
      'input',
      entry.input,
      'ok',
      entry.ok ? '1' : '0',
      'error',
      entry.error ?? '',
    );
  }

  async list(input: AuditInput): Promise<AuditEntry[]> {
    const scan = input.actor ? input.limit * 10 : input.limit;
    const entries = (await this.deps.redis.xrevrange(
      this.deps.keys.audit,
      '+',
      '-',
      'COUNT',
      String(scan),
    )) as [string, string[]][];
    return entries
      .map(([id, fields]) => auditEntry(id, fields))
      .filter((e) => !input.actor || e.actor === input.actor)
      .slice(0, input.limit)
      .reverse();
  }
}

function auditEntry(id: string, fields: string[]): AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i] ?? ''] = fields[i + 1] ?? '';
  return {
    id,
    at: Number(id.split('-')[0]),
    actor: f.actor ?? '',
    role: f.role ?? '',
    action: f.action ?? '',
    input: f.input ?? '',
    ok: f.ok === '1',
    error: f.error || null,
  };
}
