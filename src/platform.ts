import type { Config } from './config.js';
import { openDatabase, type Database, type Db } from './db/client.js';
import { openKeyValueStore, type KeyValueStore } from './kv/index.js';
import { systemClock, type Clock } from './lib/clock.js';
import { MasterKeyRing } from './lib/crypto.js';
import { createLogger, type Logger } from './lib/logger.js';

/** The infrastructure every module is given: one database, one key-value store, one clock, one logger, the keys. */
export interface Platform {
  readonly config: Config;
  readonly database: Database;
  readonly db: Db;
  readonly kv: KeyValueStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly keyRing: MasterKeyRing;
  readonly hmacKey: Buffer;
}

export interface PlatformOverrides {
  database?: Database;
  kv?: KeyValueStore;
  clock?: Clock;
  logger?: Logger;
  /** In-memory embedded database (tests) instead of DATA_DIR. */
  inMemory?: boolean;
  /** The in-memory database starts from this migrated image (see OpenOptions.image). */
  databaseImage?: Blob;
}

export async function openPlatform(config: Config, o: PlatformOverrides = {}): Promise<Platform> {
  const database =
    o.database ??
    (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: o.inMemory ? undefined : config.dataDir, poolSize: config.databasePoolSize, image: o.inMemory ? o.databaseImage : undefined }));
  return {
    config,
    database,
    db: database.db,
    kv: o.kv ?? openKeyValueStore({ redisUrl: config.redisUrl, prefix: config.redisPrefix }),
    clock: o.clock ?? systemClock,
    logger: o.logger ?? createLogger(config.logLevel),
    keyRing: MasterKeyRing.parse(config.vaultMasterKeys, config.vaultActiveKeyId),
    hmacKey: Buffer.from(config.hmacKey, 'base64'),
  };
}

export async function closePlatform(p: Platform): Promise<void> {
  await p.kv.close();
  await p.database.close();
}
