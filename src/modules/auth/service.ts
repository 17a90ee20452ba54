import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import { authenticator } from 'otplib';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId, randomToken } from '../../lib/ids.js';
import { sha256Hex } from '../../lib/crypto.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import { apiKeys, staffSessions, staffUsers } from './schema.js';
import { hashPassword, verifyAgainstDummy, verifyPassword, PASSWORD_MIN_LENGTH } from './passwords.js';
import { isRole, roleAllows, type Permission, type Role } from './permissions.js';
import { signRequest, signatureMatches } from './request-signature.js';

export interface StaffView {
  id: string;
  email: string;
  name: string;
  role: string;
  totp_enabled: boolean;
  disabled: boolean;
  created_at: string;
  last_login_at: string | null;
}

export interface StaffPrincipal {
  kind: 'staff';
  userId: string;
  role: Role;
  sessionId: string;
}

export interface ApiKeyPrincipal {
  kind: 'api_key';
  keyId: string;
  ownerType: string;
  ownerId: string;
}

/** Who a login attempt is about, as the risk gate counts it. */
export interface LoginAccount {
  type: 'staff';
  id: string;
}

export interface RequestMeta {
  ip: string;
  userAgent?: string;
}

function toStaffView(u: typeof staffUsers.$inferSelect): StaffView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    totp_enabled: u.totpEnabled,
    disabled: u.disabled,
    created_at: u.createdAt.toISOString(),
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
  };
}

const normaliseEmail = (email: string) => email.trim().toLowerCase();

function checkPasswordStrength(password: string) {
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw new AppError('VALIDATION_FAILED', `password must be at least ${PASSWORD_MIN_LENGTH} characters`, [
      { field: 'password', message: `must be at least ${PASSWORD_MIN_LENGTH} characters` },
    ]);
  }
}

/** How long an instance trusts its cached copy of an API key (the revocation delay on other instances). */
export const API_KEY_CACHE_MS = 5_000;

export function createAuthService(p: Platform, audit: AuditService) {
  const { config } = p;
  const blockSeconds = config.loginBlockMinutes * 60;
  // Failed logins count per account and per IP; either reaching its limit blocks further attempts for a while.
  const failsByAccount: RateLimiterAbstract = p.kv.rateLimiter({ keyPrefix: 'login:acct', points: config.loginMaxFailsPerAccount, durationSeconds: blockSeconds, blockSeconds });
  const failsByIp: RateLimiterAbstract = p.kv.rateLimiter({ keyPrefix: 'login:ip', points: config.loginMaxFailsPerIp, durationSeconds: blockSeconds, blockSeconds });

  function totp() {
    // otplib reads time from `epoch`: bind it to the injectable clock.
    return authenticator.clone({ epoch: p.clock.now().getTime(), window: 1 });
  }

  async function createStaff(input: { email: string; name: string; role: string; password: string }, actor: { id: string; ip?: string } | null) {
    if (!isRole(input.role)) throw new AppError('VALIDATION_FAILED', `role: unknown role ${input.role}`, [{ field: 'role', message: 'unknown role' }]);
    checkPasswordStrength(input.password);
    const email = normaliseEmail(input.email);
    const passwordHash = await hashPassword(input.password);
    return p.db.transaction(async (tx) => {
      const [existing] = await tx.select({ id: staffUsers.id }).from(staffUsers).where(eq(staffUsers.email, email));
      if (existing) throw new AppError('CONFLICT', `a staff account with e-mail ${email} already exists`, [{ field: 'email', message: 'already exists' }]);
      const [user] = await tx
        .insert(staffUsers)
        .values({ id: newId('stf', p.clock.now()), email, name: input.name, role: input.role, passwordHash, createdAt: p.clock.now() })
        .returning();
      await audit.record(
        { actorType: actor ? 'staff' : 'system', actorId: actor?.id, action: 'staff.create', targetType: 'staff', targetId: user!.id, ip: actor?.ip, details: { email, role: input.role } },
        tx,
      );
      return toStaffView(user!);
    });
  }

  async function updateStaff(id: string, patch: { role?: string; disabled?: boolean; name?: string }, actor: { id: string; ip?: string }) {
    if (patch.role !== undefined && !isRole(patch.role)) throw new AppError('VALIDATION_FAILED', `role: unknown role ${patch.role}`, [{ field: 'role', message: 'unknown role' }]);
    if (id === actor.id && (patch.disabled === true || (patch.role !== undefined && patch.role !== 'owner'))) {
      throw new AppError('UNPROCESSABLE', 'you cannot disable yourself or take away your own owner role');
    }
    return p.db.transaction(async (tx) => {
      const [user] = await tx.update(staffUsers).set(patch).where(eq(staffUsers.id, id)).returning();
      if (!user) throw notFound('staff account', id);
      if (patch.disabled) await tx.update(staffSessions).set({ revokedAt: p.clock.now() }).where(and(eq(staffSessions.userId, id), isNull(staffSessions.revokedAt)));
      await audit.record({ actorType: 'staff', actorId: actor.id, action: 'staff.update', targetType: 'staff', targetId: id, ip: actor.ip, details: patch }, tx);
      return toStaffView(user);
    });
  }

  async function listStaff(q: { limit: number; cursor?: string }): Promise<PageResult<StaffView>> {
    const rows = await p.db
      .select()
      .from(staffUsers)
      .where(pageFilter(staffUsers.id, q.cursor))
      .orderBy(desc(staffUsers.id))
      .limit(q.limit + 1);
    return toPage(rows.map(toStaffView), q.limit);
  }

  async function getStaff(id: string): Promise<StaffView> {
    const [u] = await p.db.select().from(staffUsers).where(eq(staffUsers.id, id));
    if (!u) throw notFound('staff account', id);
    return toStaffView(u);
  }

  function tooManyAttempts(res: RateLimiterRes | null): AppError | null {
    if (!res || res.remainingPoints > 0) return null;
    const retry = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    return new AppError('RATE_LIMITED', 'too many failed logins; try again later', { retry_after_seconds: retry }, { 'retry-after': String(retry) });
  }

  async function recordFailure(email: string, meta: RequestMeta, reason: string) {
    const results = await Promise.allSettled([failsByAccount.consume(email), failsByIp.consume(meta.ip)]);
    // A counter that has reached its limit means guessing or credential stuffing: report it.
    const exhausted = (r: PromiseSettledResult<RateLimiterRes>) => r.status === 'rejected' || r.value.remainingPoints === 0;
    const blocked = results.map((r, i) => (exhausted(r) ? (i === 0 ? 'account' : 'ip') : null)).filter(Boolean);
    p.logger.warn({ email, ip: meta.ip, reason, blocked }, 'staff login failed');
    if (blocked.length) {
      await audit.record({ actorType: 'system', action: 'auth.login_blocked', targetType: 'staff_email', targetId: email, ip: meta.ip, details: { by: blocked, reason } });
    }
  }

  /**
   * `gate` is the risk gate (the auth module does not know it): asked before the password is checked, with the staff
   * id as the account, or a hash of the e-mail when there is no such staff (so neither answers nor timing tell which),
   * and told of every failure.
   */
  async function login(input: { email: string; password: string; otp?: string }, meta: RequestMeta, gate?: { before: (account: LoginAccount) => Promise<void>; failed: (account: LoginAccount) => Promise<void> }) {
    const email = normaliseEmail(input.email);
    const [acctState, ipState] = await Promise.all([failsByAccount.get(email), failsByIp.get(meta.ip)]);
    const limited = tooManyAttempts(acctState) ?? tooManyAttempts(ipState);
    if (limited) throw limited;

    const [user] = await p.db.select().from(staffUsers).where(eq(staffUsers.email, email));
    const account: LoginAccount = { type: 'staff', id: user?.id ?? `login_${sha256Hex(email).slice(0, 32)}` };
    await gate?.before(account);
    const passwordOk = user ? await verifyPassword(user.passwordHash, input.password) : await verifyAgainstDummy(input.password);
    if (!user || !passwordOk) {
      await recordFailure(email, meta, user ? 'wrong password' : 'unknown account');
      await gate?.failed(account);
      throw new AppError('INVALID_CREDENTIALS', 'e-mail or password is wrong');
    }
    if (user.disabled) throw new AppError('ACCOUNT_DISABLED', 'this staff account is disabled');
    if (user.totpEnabled) {
      if (!input.otp) throw new AppError('OTP_REQUIRED', 'enter the 6-digit code from your authenticator app', [{ field: 'otp', message: 'required' }]);
      const secret = p.keyRing.unwrap(user.totpKeyId!, user.totpSecretSealed!, user.id).toString();
      if (!totp().check(input.otp, secret)) {
        await recordFailure(email, meta, 'wrong second factor');
        await gate?.failed(account);
        throw new AppError('INVALID_CREDENTIALS', 'the authenticator code is wrong', [{ field: 'otp', message: 'wrong code' }]);
      }
    }
    await failsByAccount.delete(email);

    const token = randomToken(32);
    const now = p.clock.now();
    const expiresAt = new Date(now.getTime() + config.sessionTtlMinutes * 60_000);
    const sessionId = newId('ses', now);
    await p.db.transaction(async (tx) => {
      await tx.insert(staffSessions).values({ id: sessionId, tokenHash: sha256Hex(token), userId: user.id, ip: meta.ip, userAgent: meta.userAgent ?? null, createdAt: now, expiresAt });
      await tx.update(staffUsers).set({ lastLoginAt: now }).where(eq(staffUsers.id, user.id));
      await audit.record({ actorType: 'staff', actorId: user.id, action: 'auth.login', targetType: 'session', targetId: sessionId, ip: meta.ip, details: { totp: user.totpEnabled } }, tx);
    });
    return { token, expiresAt, user: toStaffView({ ...user, lastLoginAt: now }) };
  }

  async function authenticate(token: string): Promise<StaffPrincipal | null> {
    const [row] = await p.db
      .select({ sessionId: staffSessions.id, expiresAt: staffSessions.expiresAt, revokedAt: staffSessions.revokedAt, userId: staffUsers.id, role: staffUsers.role, disabled: staffUsers.disabled })
      .from(staffSessions)
      .innerJoin(staffUsers, eq(staffUsers.id, staffSessions.userId))
      .where(eq(staffSessions.tokenHash, sha256Hex(token)));
    if (!row || row.revokedAt || row.disabled || row.expiresAt <= p.clock.now() || !isRole(row.role)) return null;
    return { kind: 'staff', userId: row.userId, role: row.role, sessionId: row.sessionId };
  }

  async function logout(principal: StaffPrincipal, meta: RequestMeta) {
    await p.db.transaction(async (tx) => {
      await tx.update(staffSessions).set({ revokedAt: p.clock.now() }).where(eq(staffSessions.id, principal.sessionId));
      await audit.record({ actorType: 'staff', actorId: principal.userId, action: 'auth.logout', targetType: 'session', targetId: principal.sessionId, ip: meta.ip }, tx);
    });
  }

  async function changePassword(userId: string, current: string, next: string, meta: RequestMeta) {
    checkPasswordStrength(next);
    const [user] = await p.db.select().from(staffUsers).where(eq(staffUsers.id, userId));
    if (!user) throw notFound('staff account', userId);
    if (!(await verifyPassword(user.passwordHash, current))) throw new AppError('INVALID_CREDENTIALS', 'current password is wrong', [{ field: 'current_password', message: 'wrong password' }]);
    const passwordHash = await hashPassword(next);
    await p.db.transaction(async (tx) => {
      await tx.update(staffUsers).set({ passwordHash }).where(eq(staffUsers.id, userId));
      await audit.record({ actorType: 'staff', actorId: userId, action: 'auth.password_change', targetType: 'staff', targetId: userId, ip: meta.ip }, tx);
    });
  }

  /** Starts second-factor enrolment: the secret is stored sealed but not enforced until confirmed. */
  async function beginTotp(userId: string) {
    const [user] = await p.db.select().from(staffUsers).where(eq(staffUsers.id, userId));
    if (!user) throw notFound('staff account', userId);
    if (user.totpEnabled) throw new AppError('CONFLICT', 'the second factor is already enabled');
    const secret = authenticator.generateSecret(20);
    const sealed = p.keyRing.wrap(Buffer.from(secret), user.id);
    await p.db.update(staffUsers).set({ totpSecretSealed: sealed.sealed, totpKeyId: sealed.keyId }).where(eq(staffUsers.id, userId));
    return { secret, otpauth_url: authenticator.keyuri(user.email, 'kaquan', secret) };
  }

  async function confirmTotp(userId: string, otp: string, meta: RequestMeta) {
    const [user] = await p.db.select().from(staffUsers).where(eq(staffUsers.id, userId));
    if (!user?.totpSecretSealed || !user.totpKeyId) throw new AppError('UNPROCESSABLE', 'start enrolment first (POST /admin/auth/totp/enroll)');
    const secret = p.keyRing.unwrap(user.totpKeyId, user.totpSecretSealed, user.id).toString();
    if (!totp().check(otp, secret)) throw new AppError('VALIDATION_FAILED', 'the authenticator code is wrong', [{ field: 'otp', message: 'wrong code' }]);
    await p.db.transaction(async (tx) => {
      await tx.update(staffUsers).set({ totpEnabled: true }).where(eq(staffUsers.id, userId));
      await audit.record({ actorType: 'staff', actorId: userId, action: 'auth.totp_enabled', targetType: 'staff', targetId: userId, ip: meta.ip }, tx);
    });
  }

  // ---- API keys (agents and partners on the open API) ----

  async function createApiKey(input: { ownerType: 'agent' | 'partner' | 'store_staff'; ownerId: string; name: string }, actor: { id: string; ip?: string }) {
    const secret = `sk_${randomToken(32)}`;
    const id = newId('key', p.clock.now());
    const sealed = p.keyRing.wrap(Buffer.from(secret), id);
    await p.db.transaction(async (tx) => {
      await tx.insert(apiKeys).values({ id, ownerType: input.ownerType, ownerId: input.ownerId, name: input.name, secretSealed: sealed.sealed, secretKeyId: sealed.keyId, createdBy: actor.id, createdAt: p.clock.now() });
      await audit.record({ actorType: 'staff', actorId: actor.id, action: 'apikey.create', targetType: 'api_key', targetId: id, ip: actor.ip, details: { owner_type: input.ownerType, owner_id: input.ownerId } }, tx);
    });
    // The secret is shown once, here; afterwards only its owner has it.
    return { id, secret, owner_type: input.ownerType, owner_id: input.ownerId, name: input.name };
  }

  async function listApiKeys(q: { limit: number; cursor?: string }) {
    const rows = await p.db.select().from(apiKeys).where(pageFilter(apiKeys.id, q.cursor)).orderBy(desc(apiKeys.id)).limit(q.limit + 1);
    return toPage(
      rows.map((k) => ({
        id: k.id,
        owner_type: k.ownerType,
        owner_id: k.ownerId,
        name: k.name,
        created_at: k.createdAt.toISOString(),
        revoked_at: k.revokedAt?.toISOString() ?? null,
        last_used_at: k.lastUsedAt?.toISOString() ?? null,
      })),
      q.limit,
    );
  }

  async function revokeApiKey(id: string, actor: { id: string; ip?: string }) {
    await p.db.transaction(async (tx) => {
      const [k] = await tx.update(apiKeys).set({ revokedAt: p.clock.now() }).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).returning();
      if (!k) throw notFound('active API key', id);
      await audit.record({ actorType: 'staff', actorId: actor.id, action: 'apikey.revoke', targetType: 'api_key', targetId: id, ip: actor.ip }, tx);
    });
    // After the commit, so a request in between cannot cache the key again as still active.
    apiKeyCache.delete(id);
  }

  // Partners sign every call: the key row and its unsealed secret are kept for a few seconds per instance
  // instead of a query and an unseal per request. A revocation applies at once on the instance that made it
  // and within API_KEY_CACHE_MS on the others.
  const apiKeyCache = new Map<string, { key: { id: string; ownerType: string; ownerId: string; secret: string } | null; at: number }>();
  async function activeApiKey(id: string) {
    const hit = apiKeyCache.get(id);
    if (hit && Date.now() - hit.at < API_KEY_CACHE_MS) return hit.key;
    const [row] = await p.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    const key = row && !row.revokedAt ? { id: row.id, ownerType: row.ownerType, ownerId: row.ownerId, secret: p.keyRing.unwrap(row.secretKeyId, row.secretSealed, row.id).toString() } : null;
    if (apiKeyCache.size > 10_000) apiKeyCache.clear();
    apiKeyCache.set(id, { key, at: Date.now() });
    return key;
  }

  /**
   * Verifies a signed open-API request. The nonce is remembered only after the
   * signature checks out, so that nobody can burn a client's nonces.
   */
  async function verifySignedRequest(h: { keyId?: string; timestamp?: string; nonce?: string; signature?: string }, method: string, pathWithQuery: string, rawBody: string): Promise<ApiKeyPrincipal> {
    const invalid = (message: string) => new AppError('INVALID_SIGNATURE', message);
    if (!h.keyId || !h.timestamp || !h.nonce || !h.signature) throw invalid('X-Kq-Key, X-Kq-Timestamp, X-Kq-Nonce and X-Kq-Signature are required');
    if (!/^\d{9,11}$/.test(h.timestamp)) throw invalid('X-Kq-Timestamp must be unix seconds');
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(h.nonce)) throw invalid('X-Kq-Nonce must be 16-64 characters of [A-Za-z0-9_-]');
    const skew = Math.abs(p.clock.now().getTime() / 1000 - Number(h.timestamp));
    if (skew > config.signatureToleranceSeconds) throw invalid(`timestamp is ${Math.round(skew)} s away from server time (limit ${config.signatureToleranceSeconds} s)`);
    const key = await activeApiKey(h.keyId);
    if (!key) throw invalid('unknown or revoked API key');
    const secret = key.secret;
    const expected = signRequest(secret, method, pathWithQuery, h.timestamp, h.nonce, rawBody);
    if (!signatureMatches(expected, h.signature)) throw invalid('signature does not match');
    const fresh = await p.kv.setIfAbsent(`nonce:${key.id}:${h.nonce}`, '1', config.signatureToleranceSeconds * 2 * 1000);
    if (!fresh) throw invalid('nonce was already used');
    return { kind: 'api_key', keyId: key.id, ownerType: key.ownerType, ownerId: key.ownerId };
  }

  async function purgeExpiredSessions(): Promise<number> {
    const rows = await p.db.delete(staffSessions).where(lt(staffSessions.expiresAt, p.clock.now())).returning({ id: staffSessions.id });
    return rows.length;
  }

  return {
    createStaff,
    updateStaff,
    listStaff,
    getStaff,
    login,
    authenticate,
    logout,
    changePassword,
    beginTotp,
    confirmTotp,
    createApiKey,
    listApiKeys,
    revokeApiKey,
    verifySignedRequest,
    purgeExpiredSessions,
    can: (principal: StaffPrincipal, permission: Permission) => roleAllows(principal.role, permission),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
