import { sha256Hex } from '../../lib/crypto.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditContent {
  seq: number;
  at: Date;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
  prevHash: string;
}

/** JSON with object keys sorted at every depth: jsonb does not keep key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function auditHash(row: AuditContent): string {
  return sha256Hex(
    canonicalJson([row.seq, row.at.toISOString(), row.actorType, row.actorId, row.action, row.targetType, row.targetId, row.ip, row.details, row.prevHash]),
  );
}

export type ChainBreak = { seq: number; reason: string };

/**
 * Walks rows in seq order. Returns the first broken link: a gap in seq (a
 * deleted row), a prev_hash that is not the previous row's hash, or a hash
 * that does not match the row's content (an edited row).
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  checked = 0;

  next(row: AuditContent & { hash: string }): ChainBreak | null {
    if (row.seq !== this.expectedSeq) return { seq: this.expectedSeq, reason: `row ${this.expectedSeq} is missing (next row found is ${row.seq})` };
    if (row.prevHash !== this.prevHash) return { seq: row.seq, reason: `prev_hash does not match the hash of row ${row.seq - 1}` };
    if (auditHash(row) !== row.hash) return { seq: row.seq, reason: 'content does not match its hash (row was altered)' };
    this.prevHash = row.hash;
    this.expectedSeq += 1;
    this.checked += 1;
    return null;
  }

  finish(head: { lastSeq: number; lastHash: string } | null): ChainBreak | null {
    const lastSeq = this.expectedSeq - 1;
    if (!head) return lastSeq === 0 ? null : { seq: lastSeq, reason: 'chain head is missing' };
    if (head.lastSeq > lastSeq) return { seq: lastSeq + 1, reason: `chain head says ${head.lastSeq} rows, found ${lastSeq} (rows deleted at the end)` };
    if (head.lastSeq < lastSeq) return { seq: head.lastSeq + 1, reason: `rows after ${head.lastSeq} were not written through the audit service (head not advanced)` };
    if (head.lastHash !== this.prevHash) return { seq: lastSeq, reason: 'chain head hash does not match the last row' };
    return null;
  }
}
