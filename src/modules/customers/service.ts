import { and, desc, eq, inArray } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { phoneHash as hashPhone, sealPhone } from './phone.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { DbOrTx } from '../../db/client.js';
import { customerIdentities, customers } from './schema.js';

/** Where a chat or app user comes from; each provider's id is unique within it. */
export const identityProviders = ['telegram', 'wechat_openid', 'wechat_unionid', 'miniprogram_openid', 'wecom_userid', 'partner'] as const;
export type IdentityProvider = (typeof identityProviders)[number];

export interface Identity {
  provider: IdentityProvider;
  externalId: string;
}

export interface CustomerView {
  id: string;
  display_name: string;
  locale: string;
  phone: string | null;
  status: string;
  created_at: string;
  identities: { provider: string; external_id: string }[];
}

export function createCustomerService(p: Platform) {
  const phoneHash = (phone: string) => hashPhone(p, phone);
  /** Run once a new customer is committed (the marketing new-user pack); a failing hook is logged, never fails the caller. */
  const createdHooks: ((customerId: string) => Promise<unknown>)[] = [];
  const onCreated = (hook: (customerId: string) => Promise<unknown>) => void createdHooks.push(hook);

  async function findByIdentity(db: DbOrTx, identity: Identity): Promise<string | null> {
    return (await knownIdentity(db, identity))?.customerId ?? null;
  }

  /** The holder of an identity and when that customer was created (the risk gate reads the account's age), in one read. */
  async function knownIdentity(db: DbOrTx, identity: Identity): Promise<{ customerId: string; createdAt: Date } | null> {
    const [row] = await db
      .select({ customerId: customerIdentities.customerId, createdAt: customers.createdAt })
      .from(customerIdentities)
      .innerJoin(customers, eq(customers.id, customerIdentities.customerId))
      .where(and(eq(customerIdentities.provider, identity.provider), eq(customerIdentities.externalId, identity.externalId)));
    return row ?? null;
  }

  /** Inserts the identity unless some customer already holds it; answers who holds it. */
  async function attach(db: DbOrTx, customerId: string, identity: Identity): Promise<string> {
    await db
      .insert(customerIdentities)
      .values({ id: newId('cid', p.clock.now()), customerId, provider: identity.provider, externalId: identity.externalId, createdAt: p.clock.now() })
      .onConflictDoNothing();
    return (await findByIdentity(db, identity))!;
  }

  /**
   * The customer behind a chat identity, created on first contact. A WeChat
   * unionid joins the openids of the Official Account, the mini-program and
   * WeCom into one customer. Safe when two first messages race: the unique
   * index on (provider, external_id) decides, and the loser reads the winner.
   */
  async function resolve(input: { identity: Identity; unionId?: string; displayName?: string; locale?: string }): Promise<{ customerId: string; created: boolean; createdAt?: Date }> {
    const known = await knownIdentity(p.db, input.identity);
    if (known) return { customerId: known.customerId, created: false, createdAt: known.createdAt };
    const out = await p.db.transaction(async (tx) => {
      const union: Identity | undefined = input.unionId ? { provider: 'wechat_unionid', externalId: input.unionId } : undefined;
      const viaUnion = union ? await findByIdentity(tx, union) : null;
      if (viaUnion) return { customerId: await attach(tx, viaUnion, input.identity), created: false };
      const id = newId('cus', p.clock.now());
      const createdAt = p.clock.now();
      await tx.insert(customers).values({ id, displayName: input.displayName?.slice(0, 64) || 'customer', locale: input.locale ?? 'zh-CN', createdAt });
      const holder = await attach(tx, id, input.identity);
      if (holder !== id) {
        // Lost a race: somebody else created the customer first. Drop ours.
        await tx.delete(customers).where(eq(customers.id, id));
        return { customerId: holder, created: false };
      }
      if (union) await attach(tx, id, union);
      return { customerId: id, created: true, createdAt };
    });
    if (out.created) {
      for (const hook of createdHooks) await hook(out.customerId).catch((err: unknown) => p.logger.error({ err, customer_id: out.customerId }, 'customer created hook failed'));
    }
    return out;
  }

  /** Links another identity to an existing customer; refuses one that belongs to somebody else. */
  async function link(customerId: string, identity: Identity): Promise<void> {
    const [c] = await p.db.select({ id: customers.id }).from(customers).where(eq(customers.id, customerId));
    if (!c) throw notFound('customer', customerId);
    const holder = await attach(p.db, customerId, identity);
    if (holder !== customerId) throw new AppError('CONFLICT', `this ${identity.provider} identity already belongs to another customer`);
  }

  async function setPhone(customerId: string, phone: string): Promise<void> {
    if (!/^\+?\d{7,15}$/.test(phone)) throw new AppError('VALIDATION_FAILED', 'phone: not a phone number', [{ field: 'phone', message: 'not a phone number' }]);
    const sealed = sealPhone(p, phone, customerId);
    const rows = await p.db
      .update(customers)
      .set({ phoneSealed: sealed.sealed, phoneKeyId: sealed.keyId, phoneHash: sealed.hash, phoneMasked: sealed.masked })
      .where(eq(customers.id, customerId))
      .returning({ id: customers.id });
    if (rows.length === 0) throw notFound('customer', customerId);
  }

  async function findByPhone(phone: string): Promise<string[]> {
    const rows = await p.db.select({ id: customers.id }).from(customers).where(eq(customers.phoneHash, phoneHash(phone)));
    return rows.map((r) => r.id);
  }

  async function get(customerId: string): Promise<CustomerView> {
    const [c] = await p.db.select().from(customers).where(eq(customers.id, customerId));
    if (!c) throw notFound('customer', customerId);
    const ids = await p.db.select().from(customerIdentities).where(eq(customerIdentities.customerId, customerId));
    return toView(c, ids);
  }

  async function list(q: { limit: number; cursor?: string }): Promise<PageResult<CustomerView>> {
    const rows = await p.db
      .select()
      .from(customers)
      .where(pageFilter(customers.id, q.cursor))
      .orderBy(desc(customers.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const ids = page.data.length
      ? await p.db.select().from(customerIdentities).where(inArray(customerIdentities.customerId, page.data.map((c) => c.id)))
      : [];
    return { ...page, data: page.data.map((c) => toView(c, ids.filter((i) => i.customerId === c.id))) };
  }

  /** The keyed hash of a customer's phone (null without one): to compare, never to show. */
  async function phoneHashOf(customerId: string, db: DbOrTx = p.db): Promise<string | null> {
    const [row] = await db.select({ hash: customers.phoneHash }).from(customers).where(eq(customers.id, customerId));
    return row?.hash ?? null;
  }

  return { resolve, link, setPhone, findByPhone, get, list, phoneHashOf, onCreated, find: (identity: Identity) => findByIdentity(p.db, identity) };
}

function toView(c: typeof customers.$inferSelect, ids: (typeof customerIdentities.$inferSelect)[]): CustomerView {
  return {
    id: c.id,
    display_name: c.displayName,
    locale: c.locale,
    phone: c.phoneMasked,
    status: c.status,
    created_at: c.createdAt.toISOString(),
    identities: ids.map((i) => ({ provider: i.provider, external_id: i.externalId })),
  };
}

export type CustomerService = ReturnType<typeof createCustomerService>;
