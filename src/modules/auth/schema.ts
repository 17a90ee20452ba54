import { boolean, index, pgTable, text } from 'drizzle-orm/pg-core';
import { bytea, createdAt, tstz } from '../../db/columns.js';

export const staffUsers = pgTable('staff_users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  role: text('role').notNull(),
  passwordHash: text('password_hash').notNull(),
  /** TOTP secret sealed with the master key ring; null until enrolled. */
  totpSecretSealed: bytea('totp_secret_sealed'),
  totpKeyId: text('totp_key_id'),
  totpEnabled: boolean('totp_enabled').notNull().default(false),
  disabled: boolean('disabled').notNull().default(false),
  createdAt: createdAt(),
  lastLoginAt: tstz('last_login_at'),
});

export const staffSessions = pgTable(
  'staff_sessions',
  {
    id: text('id').primaryKey(),
    /** Only a hash of the token is stored: a leaked table does not give sessions. */
    tokenHash: text('token_hash').notNull().unique(),
    userId: text('user_id')
      .notNull()
      .references(() => staffUsers.id),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
    expiresAt: tstz('expires_at').notNull(),
    revokedAt: tstz('revoked_at'),
  },
  (t) => [index('staff_sessions_user_idx').on(t.userId)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    ownerType: text('owner_type').notNull(),
    ownerId: text('owner_id').notNull(),
    name: text('name').notNull(),
    /** The HMAC secret must be recoverable to verify signatures, so it is sealed, not hashed. */
    secretSealed: bytea('secret_sealed').notNull(),
    secretKeyId: text('secret_key_id').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    revokedAt: tstz('revoked_at'),
    lastUsedAt: tstz('last_used_at'),
  },
  (t) => [index('api_keys_owner_idx').on(t.ownerType, t.ownerId)],
);
