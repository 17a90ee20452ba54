import { randomInt } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Platform } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import { hmacSha256Hex } from '../../src/lib/crypto.js';
import { botLinkCodes, botStaffLinks } from './schema.js';

/** Unambiguous characters (no 0/O, 1/I/L). */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 8;
const TTL_MINUTES = 15;

export type LinkKind = 'agent' | 'staff';

/**
 * One-time link codes: the agent back office (or an admin route for staff)
 * issues a short code; the person sends "/link CODE" from the chat account to
 * link. Only the code's HMAC is stored; a code links once, within 15 minutes.
 */
export function createChatLinks(p: Platform, s: Pick<Services, 'agents'>) {
  const hashOf = (code: string) => hmacSha256Hex(p.hmacKey, `bot-link:${code.trim().toUpperCase()}`);

  async function issue(kind: LinkKind, subjectId: string): Promise<{ code: string; expires_at: string; command: string }> {
    const code = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
    const now = p.clock.now();
    const expiresAt = new Date(now.getTime() + TTL_MINUTES * 60_000);
    await p.db.insert(botLinkCodes).values({ codeHash: hashOf(code), kind, subjectId, expiresAt, createdAt: now });
    return { code, expires_at: expiresAt.toISOString(), command: `/link ${code}` };
  }

  /**
   * Uses a code for this chat user (customer + chat identity): links the
   * agent's account to the customer, or the staff member to the chat
   * identity. Null when the code is unknown, used or expired (or not of the `only` kind, which leaves it unused).
   */
  async function consume(code: string, who: { customerId: string; userKey: string }, only?: LinkKind): Promise<{ kind: LinkKind; subjectId: string } | null> {
    if (!/^[A-Za-z0-9]{4,16}$/.test(code.trim())) return null;
    const now = p.clock.now();
    return p.db.transaction(async (tx) => {
      const [used] = await tx
        .update(botLinkCodes)
        .set({ usedAt: now, usedBy: who.userKey })
        .where(and(eq(botLinkCodes.codeHash, hashOf(code)), isNull(botLinkCodes.usedAt), gt(botLinkCodes.expiresAt, now), only ? eq(botLinkCodes.kind, only) : undefined))
        .returning({ kind: botLinkCodes.kind, subjectId: botLinkCodes.subjectId });
      if (!used) return null;
      if (used.kind === 'agent') await s.agents.linkCustomer(used.subjectId, who.customerId, tx);
      else
        await tx
          .insert(botStaffLinks)
          .values({ userKey: who.userKey, staffId: used.subjectId, createdAt: now })
          .onConflictDoUpdate({ target: botStaffLinks.userKey, set: { staffId: used.subjectId, createdAt: now } });
      return used;
    });
  }

  async function staffOf(userKey: string): Promise<string | null> {
    const [row] = await p.db.select({ staffId: botStaffLinks.staffId }).from(botStaffLinks).where(eq(botStaffLinks.userKey, userKey));
    return row?.staffId ?? null;
  }

  return { issue, consume, staffOf };
}

export type ChatLinks = ReturnType<typeof createChatLinks>;
