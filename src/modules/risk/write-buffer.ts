import { sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { riskDeviceLinks, riskDevices, type riskDecisions } from './schema.js';

/**
 * The decision log and the device tables are written off the latency path:
 * a decision only appends to these buffers, and they are flushed in batches
 * (every `intervalMs`, or at once when `maxRows` are waiting) and on close.
 * The velocity counters (Redis, or memory) are the real-time truth the gate
 * reads; these tables are the record for people and for training, and may lag
 * by one flush. Repeated sightings of a device or link within one batch are
 * merged, so each batch is one upsert per row.
 */
export type DecisionRow = typeof riskDecisions.$inferInsert;
type LinkSubject = 'account' | 'phone_hash' | 'ip';

export function createWriteBuffer(p: Platform, o: { intervalMs: number; maxRows: number }) {
  let decisions: DecisionRow[] = [];
  let devices = new Map<string, { first: Date; last: Date; signals: Record<string, unknown> }>();
  let links = new Map<string, { deviceId: string; subjectType: LinkSubject; subjectId: string; first: Date; last: Date; hits: number }>();
  let pending = 0;
  let running: Promise<void> = Promise.resolve();
  let closed = false;

  const timer = setInterval(() => void flush(), o.intervalMs);
  timer.unref();

  function bump() {
    if (++pending >= o.maxRows) void flush();
  }

  function decision(row: DecisionRow) {
    decisions.push(row);
    bump();
  }

  function device(deviceId: string, at: Date, signals: Record<string, unknown> | undefined) {
    const d = devices.get(deviceId);
    if (d) {
      d.last = at;
      if (signals) Object.assign(d.signals, signals);
    } else {
      devices.set(deviceId, { first: at, last: at, signals: { ...signals } });
      bump();
    }
  }

  function link(deviceId: string, subjectType: LinkSubject, subjectId: string, at: Date) {
    const key = `${deviceId}\u0000${subjectType}\u0000${subjectId}`;
    const l = links.get(key);
    if (l) {
      l.last = at;
      l.hits++;
    } else {
      links.set(key, { deviceId, subjectType, subjectId, first: at, last: at, hits: 1 });
      bump();
    }
  }

  async function write() {
    if (pending === 0) return;
    const ds = decisions;
    const dv = devices;
    const lk = links;
    decisions = [];
    devices = new Map();
    links = new Map();
    pending = 0;
    try {
      await p.db.transaction(async (tx) => {
        // One JSON parameter per chunk: the ORM's per-value mapping cost more than the insert itself.
        for (let i = 0; i < ds.length; i += 2000) {
          const chunk = ds.slice(i, i + 2000).map((d) => ({ id: d.id, action: d.action, subject: d.subject ?? null, ip: d.ip, device: d.device ?? null, decision: d.decision, reasons: d.reasons, shadow_matches: d.shadowMatches ?? [], features: d.features, score: d.score ?? null, rule_versions: d.ruleVersions ?? {}, created_at: d.createdAt.toISOString() }));
          await tx.execute(sql`insert into risk_decisions (id, action, subject, ip, device, decision, reasons, shadow_matches, features, score, rule_versions, created_at)
            select id, action, subject, ip, device, decision, reasons, shadow_matches, features, score, rule_versions, created_at
            from jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb) as x(id text, action text, subject text, ip text, device text, decision text, reasons jsonb, shadow_matches jsonb, features jsonb, score double precision, rule_versions jsonb, created_at timestamptz)`);
        }
        const devRows = [...dv].map(([deviceId, d]) => ({ deviceId, firstSeen: d.first, lastSeen: d.last, signals: d.signals }));
        for (let i = 0; i < devRows.length; i += 500) {
          await tx
            .insert(riskDevices)
            .values(devRows.slice(i, i + 500))
            .onConflictDoUpdate({ target: riskDevices.deviceId, set: { lastSeen: sql`greatest(${riskDevices.lastSeen}, excluded.last_seen)`, signals: sql`${riskDevices.signals} || excluded.signals` } });
        }
        const linkRows = [...lk.values()].map((l) => ({ deviceId: l.deviceId, subjectType: l.subjectType, subjectId: l.subjectId, firstSeen: l.first, lastSeen: l.last, hits: l.hits }));
        for (let i = 0; i < linkRows.length; i += 500) {
          await tx
            .insert(riskDeviceLinks)
            .values(linkRows.slice(i, i + 500))
            .onConflictDoUpdate({
              target: [riskDeviceLinks.deviceId, riskDeviceLinks.subjectType, riskDeviceLinks.subjectId],
              set: { lastSeen: sql`greatest(${riskDeviceLinks.lastSeen}, excluded.last_seen)`, hits: sql`${riskDeviceLinks.hits} + excluded.hits` },
            });
        }
      });
    } catch (err) {
      // The gate already answered; losing one batch of the record must not stop it.
      p.logger.error({ err, decisions: ds.length }, 'risk: flushing decisions and device links failed');
    }
  }

  /** Writes what is buffered; waits for a flush already under way. */
  function flush(): Promise<void> {
    running = running.then(write, write);
    return running;
  }

  async function close() {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    await flush();
  }

  return { decision, device, link, flush, close };
}

export type WriteBuffer = ReturnType<typeof createWriteBuffer>;
