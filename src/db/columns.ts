import { customType, timestamp } from 'drizzle-orm/pg-core';

/** bytea as a Node Buffer on both drivers. */
export const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  toDriver: (value) => value,
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

export const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull();
export const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
