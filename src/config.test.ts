import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { MasterKeyRing } from './lib/crypto.js';

type Env = Record<string, string | undefined>;

const root = mkdtempSync(join(tmpdir(), 'kaquan-config-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh, empty data directory for each call: no test writes into the repo. */
const freshDir = () => mkdtempSync(join(root, 'data-'));

const key32 = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const SESSION_SECRET = 's'.repeat(32);
const VAULT_MASTER_KEYS = `k1:${key32(1)},k2:${key32(2)}`;
const HMAC_KEY = key32(3);
const secrets = { SESSION_SECRET, VAULT_MASTER_KEYS, HMAC_KEY };

const load = (env: Env) => loadConfig({ DATA_DIR: freshDir(), ...env });

/** Loads the config expecting a ConfigError; checks it is one line naming the variable. */
function configError(env: Env, variable: string): string {
  let caught: unknown;
  try {
    load(env);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${variable} to be refused`).toBeInstanceOf(ConfigError);
  const message = (caught as ConfigError).message;
  expect(message).not.toMatch(/[\r\n]/);
  expect(message).toMatch(/^Invalid configuration: /);
  expect(message).toContain(variable);
  return message;
}

describe('loadConfig defaults', () => {
  it('works with an empty env (only DATA_DIR) and gives the documented defaults', () => {
    const dataDir = freshDir();
    const c = loadConfig({ DATA_DIR: dataDir });
    expect(c).toMatchObject({
      nodeEnv: 'development',
      host: '127.0.0.1',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      logLevel: 'info',
      dataDir: resolve(dataDir),
      databaseUrl: undefined,
      databasePoolSize: 10,
      redisUrl: undefined,
      redisPrefix: 'kq:',
      trustProxy: false,
      bodyLimitBytes: 1024 * 1024,
      corsOrigins: [],
      sessionTtlMinutes: 720,
      vaultActiveKeyId: 'dev1',
      loginMaxFailsPerAccount: 5,
      loginMaxFailsPerIp: 30,
      loginBlockMinutes: 15,
      signatureToleranceSeconds: 300,
      jobsEnabled: true,
      seedDemo: true,
    });
  });

  it('generated secrets are usable: session secret >= 32 chars, a valid key ring, a 32-byte HMAC key', () => {
    const c = load({});
    expect(c.sessionSecret.length).toBeGreaterThanOrEqual(32);
    const ring = MasterKeyRing.parse(c.vaultMasterKeys, c.vaultActiveKeyId);
    expect(ring.activeKeyId).toBe('dev1');
    expect(Buffer.from(c.hmacKey, 'base64')).toHaveLength(32);
  });

  it('writes DATA_DIR/secrets.json with mode 600 and reuses it on the second call', () => {
    const dataDir = freshDir();
    const file = join(dataDir, 'secrets.json');
    expect(existsSync(file)).toBe(false);

    const first = loadConfig({ DATA_DIR: dataDir });
    expect(existsSync(file)).toBe(true);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(stored).toEqual({ sessionSecret: first.sessionSecret, vaultMasterKeys: first.vaultMasterKeys, hmacKey: first.hmacKey });
    const contentBefore = readFileSync(file, 'utf8');

    const second = loadConfig({ DATA_DIR: dataDir });
    expect(second.sessionSecret).toBe(first.sessionSecret);
    expect(second.vaultMasterKeys).toBe(first.vaultMasterKeys);
    expect(second.hmacKey).toBe(first.hmacKey);
    expect(readFileSync(file, 'utf8')).toBe(contentBefore);
  });

  it('generates different secrets for different data directories', () => {
    const a = load({});
    const b = load({});
    expect(a.sessionSecret).not.toBe(b.sessionSecret);
    expect(a.vaultMasterKeys).not.toBe(b.vaultMasterKeys);
    expect(a.hmacKey).not.toBe(b.hmacKey);
  });

  it('creates a DATA_DIR that does not exist yet', () => {
    const dataDir = join(freshDir(), 'nested', 'deeper');
    loadConfig({ DATA_DIR: dataDir });
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(true);
  });

  it('uses secrets from secrets.json that are already there', () => {
    const dataDir = freshDir();
    writeFileSync(join(dataDir, 'secrets.json'), JSON.stringify({ sessionSecret: SESSION_SECRET, vaultMasterKeys: VAULT_MASTER_KEYS, hmacKey: HMAC_KEY }));
    const c = loadConfig({ DATA_DIR: dataDir });
    expect(c.sessionSecret).toBe(SESSION_SECRET);
    expect(c.vaultMasterKeys).toBe(VAULT_MASTER_KEYS);
    expect(c.vaultActiveKeyId).toBe('k2');
  });

  it('does not write secrets.json when all secrets are given', () => {
    const dataDir = freshDir();
    const c = loadConfig({ DATA_DIR: dataDir, ...secrets });
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
    expect(c.sessionSecret).toBe(SESSION_SECRET);
    expect(c.hmacKey).toBe(HMAC_KEY);
  });

  it('env secrets win over generated ones when only some are given', () => {
    const c = load({ SESSION_SECRET });
    expect(c.sessionSecret).toBe(SESSION_SECRET);
    expect(c.vaultActiveKeyId).toBe('dev1');
  });

  it('treats empty strings as unset', () => {
    const c = load({ PORT: '', LOG_LEVEL: '', JOBS_ENABLED: '', DATABASE_URL: '', CORS_ORIGINS: '', NODE_ENV: '' });
    expect(c.port).toBe(3000);
    expect(c.logLevel).toBe('info');
    expect(c.jobsEnabled).toBe(true);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.corsOrigins).toEqual([]);
    expect(c.nodeEnv).toBe('development');
  });

  it('NODE_ENV=test defaults LOG_LEVEL to silent', () => {
    expect(load({ NODE_ENV: 'test' }).logLevel).toBe('silent');
    expect(load({ NODE_ENV: 'test', LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
  });

  it('production with all secrets loads, and does not seed demo data by default', () => {
    const dataDir = freshDir();
    const c = loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production', ...secrets });
    expect(c.nodeEnv).toBe('production');
    expect(c.seedDemo).toBe(false);
    expect(c.vaultActiveKeyId).toBe('k2');
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });
});

describe('loadConfig accepted values', () => {
  it('reads every setting', () => {
    const c = load({
      ...secrets,
      NODE_ENV: 'development',
      HOST: '0.0.0.0',
      PORT: '8080',
      PUBLIC_URL: 'https://kaquan.example.com',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgres://u:p@db:5432/kaquan',
      DATABASE_POOL_SIZE: '50',
      REDIS_URL: 'rediss://cache:6380',
      REDIS_PREFIX: 'x:',
      TRUST_PROXY: 'true',
      BODY_LIMIT_BYTES: '2048',
      CORS_ORIGINS: 'https://a.example.com, https://b.example.com:8443',
      SESSION_TTL_MINUTES: '60',
      VAULT_ACTIVE_KEY_ID: 'k1',
      LOGIN_MAX_FAILS_PER_ACCOUNT: '3',
      LOGIN_MAX_FAILS_PER_IP: '100',
      LOGIN_BLOCK_MINUTES: '5',
      SIGNATURE_TOLERANCE_SECONDS: '60',
      JOBS_ENABLED: 'false',
      SEED_DEMO: 'no',
    });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      publicUrl: 'https://kaquan.example.com',
      logLevel: 'debug',
      databaseUrl: 'postgres://u:p@db:5432/kaquan',
      databasePoolSize: 50,
      redisUrl: 'rediss://cache:6380',
      redisPrefix: 'x:',
      trustProxy: true,
      bodyLimitBytes: 2048,
      corsOrigins: ['https://a.example.com', 'https://b.example.com:8443'],
      sessionTtlMinutes: 60,
      vaultActiveKeyId: 'k1',
      loginMaxFailsPerAccount: 3,
      loginMaxFailsPerIp: 100,
      loginBlockMinutes: 5,
      signatureToleranceSeconds: 60,
      jobsEnabled: false,
      seedDemo: false,
    });
  });

  it('publicUrl follows PORT', () => {
    expect(load({ PORT: '4000' }).publicUrl).toBe('http://localhost:4000');
  });

  it.each(['0', '1', '65535'])('accepts PORT=%s', (port) => {
    expect(load({ PORT: port }).port).toBe(Number(port));
  });

  it('accepts postgresql: and redis: schemes', () => {
    const c = load({ DATABASE_URL: 'postgresql://localhost/db', REDIS_URL: 'redis://localhost:6379/0' });
    expect(c.databaseUrl).toBe('postgresql://localhost/db');
    expect(c.redisUrl).toBe('redis://localhost:6379/0');
  });

  it.each([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['Yes', true],
    ['on', true],
    ['0', false],
    ['false', false],
    ['No', false],
    ['OFF', false],
  ])('JOBS_ENABLED=%s is %s', (raw, value) => {
    expect(load({ JOBS_ENABLED: raw }).jobsEnabled).toBe(value);
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])('accepts LOG_LEVEL=%s', (level) => {
    expect(load({ LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it('ignores empty CORS_ORIGINS entries', () => {
    expect(load({ CORS_ORIGINS: ' , https://a.example.com ,,' }).corsOrigins).toEqual(['https://a.example.com']);
  });

  it('VAULT_MASTER_KEYS: the last key is active unless VAULT_ACTIVE_KEY_ID says otherwise', () => {
    expect(load({ VAULT_MASTER_KEYS }).vaultActiveKeyId).toBe('k2');
    expect(load({ VAULT_MASTER_KEYS, VAULT_ACTIVE_KEY_ID: 'k1' }).vaultActiveKeyId).toBe('k1');
  });
});

describe('loadConfig refuses bad values with a one-line ConfigError naming the variable', () => {
  it.each<[string, Env, string]>([
    ['PORT=abc', { PORT: 'abc' }, 'PORT'],
    ['PORT=70000', { PORT: '70000' }, 'PORT'],
    ['PORT=65536', { PORT: '65536' }, 'PORT'],
    ['PORT=-1', { PORT: '-1' }, 'PORT'],
    ['PORT=80.5', { PORT: '80.5' }, 'PORT'],
    ['PORT= 80', { PORT: ' 80' }, 'PORT'],
    ['PORT=1e3', { PORT: '1e3' }, 'PORT'],
    ['NODE_ENV=staging', { NODE_ENV: 'staging' }, 'NODE_ENV'],
    ['DATABASE_URL=mysql://x', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    ['DATABASE_URL=not a url', { DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    ['REDIS_URL=notaurl', { REDIS_URL: 'notaurl' }, 'REDIS_URL'],
    ['REDIS_URL=http://cache', { REDIS_URL: 'http://cache' }, 'REDIS_URL'],
    ['PUBLIC_URL=ftp://x', { PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['LOG_LEVEL=INFO', { LOG_LEVEL: 'INFO' }, 'LOG_LEVEL'],
    ['JOBS_ENABLED=maybe', { JOBS_ENABLED: 'maybe' }, 'JOBS_ENABLED'],
    ['TRUST_PROXY=2', { TRUST_PROXY: '2' }, 'TRUST_PROXY'],
    ['SEED_DEMO=y', { SEED_DEMO: 'y' }, 'SEED_DEMO'],
    ['DATABASE_POOL_SIZE=0', { DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    ['BODY_LIMIT_BYTES=10', { BODY_LIMIT_BYTES: '10' }, 'BODY_LIMIT_BYTES'],
    ['SESSION_TTL_MINUTES=1', { SESSION_TTL_MINUTES: '1' }, 'SESSION_TTL_MINUTES'],
    ['SIGNATURE_TOLERANCE_SECONDS=5', { SIGNATURE_TOLERANCE_SECONDS: '5' }, 'SIGNATURE_TOLERANCE_SECONDS'],
    ['VAULT_MASTER_KEYS=k1:short', { VAULT_MASTER_KEYS: 'k1:short' }, 'VAULT_MASTER_KEYS'],
    ['VAULT_MASTER_KEYS without id', { VAULT_MASTER_KEYS: key32(1) }, 'VAULT_MASTER_KEYS'],
    ['VAULT_MASTER_KEYS with empty id', { VAULT_MASTER_KEYS: `:${key32(1)}` }, 'VAULT_MASTER_KEYS'],
    ['VAULT_MASTER_KEYS with one bad key of two', { VAULT_MASTER_KEYS: `k1:${key32(1)},k2:${Buffer.alloc(16).toString('base64')}` }, 'VAULT_MASTER_KEYS'],
    ['VAULT_MASTER_KEYS=","', { VAULT_MASTER_KEYS: ',' }, 'VAULT_MASTER_KEYS'],
    ['VAULT_ACTIVE_KEY_ID not in the ring', { VAULT_MASTER_KEYS, VAULT_ACTIVE_KEY_ID: 'k9' }, 'VAULT_ACTIVE_KEY_ID'],
    ['VAULT_ACTIVE_KEY_ID not in the generated ring', { VAULT_ACTIVE_KEY_ID: 'k9' }, 'VAULT_ACTIVE_KEY_ID'],
    ['SESSION_SECRET too short', { SESSION_SECRET: 's'.repeat(31) }, 'SESSION_SECRET'],
    ['HMAC_KEY too short', { HMAC_KEY: 'short' }, 'HMAC_KEY'],
    ['CORS_ORIGINS=not a url', { CORS_ORIGINS: 'not a url' }, 'CORS_ORIGINS'],
    ['CORS_ORIGINS with one bad entry', { CORS_ORIGINS: 'https://ok.example.com,bad origin' }, 'CORS_ORIGINS'],
  ])('%s', (_label, env, variable) => {
    configError(env, variable);
  });

  it('quotes the bad value', () => {
    expect(configError({ PORT: 'abc' }, 'PORT')).toBe('Invalid configuration: PORT must be an integer between 0 and 65535 (got "abc")');
    expect(configError({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL')).toContain('(got "loud")');
    expect(configError({ VAULT_MASTER_KEYS, VAULT_ACTIVE_KEY_ID: 'k9' }, 'VAULT_ACTIVE_KEY_ID')).toContain('k1, k2');
  });

  it('never echoes a secret value', () => {
    const shortSecret = 'tooshort-session-secret';
    expect(configError({ SESSION_SECRET: shortSecret }, 'SESSION_SECRET')).not.toContain(shortSecret);
    const badKeys = 'k1:c2hvcnRrZXk=';
    const m = configError({ VAULT_MASTER_KEYS: badKeys }, 'VAULT_MASTER_KEYS');
    expect(m).not.toContain('c2hvcnRrZXk');
    const badHmac = 'aG1hYy1zaG9ydA==';
    expect(configError({ HMAC_KEY: badHmac }, 'HMAC_KEY')).not.toContain(badHmac);
  });

  it('a bad value does not leave a secrets.json behind when production fails early', () => {
    const dataDir = freshDir();
    expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });
});

describe('loadConfig in production', () => {
  it.each(['SESSION_SECRET', 'VAULT_MASTER_KEYS', 'HMAC_KEY'])('fails without %s, naming it', (missing) => {
    const env: Env = { NODE_ENV: 'production', ...secrets, [missing]: undefined };
    const message = configError(env, missing);
    expect(message).toBe(`Invalid configuration: ${missing} is required when NODE_ENV=production`);
  });

  it('treats an empty secret as missing', () => {
    configError({ NODE_ENV: 'production', ...secrets, HMAC_KEY: '' }, 'HMAC_KEY');
  });

  it('names the first missing secret when none is given', () => {
    expect(configError({ NODE_ENV: 'production' }, 'SESSION_SECRET')).toContain('SESSION_SECRET is required');
  });

  it('still validates the secrets it is given', () => {
    configError({ NODE_ENV: 'production', ...secrets, SESSION_SECRET: 'short' }, 'SESSION_SECRET');
    configError({ NODE_ENV: 'production', ...secrets, VAULT_MASTER_KEYS: 'k1:short' }, 'VAULT_MASTER_KEYS');
  });
});

describe('loadConfig keeps passwords in connection strings out of errors', () => {
  const password = 'S3cr3t-Pa55word';

  it.each<[string, string, string]>([
    ['DATABASE_URL', `mysql://kaquan:${password}@db.internal:3306/kaquan`, 'db.internal'],
    ['DATABASE_URL', `postgres://kaquan:${password}@db.internal:notaport/kaquan`, 'db.internal'],
    ['DATABASE_URL', `http://kaquan:${password}@db.internal/kaquan`, 'db.internal'],
    ['REDIS_URL', `http://default:${password}@cache.internal:6379`, 'cache.internal'],
    ['REDIS_URL', `redis://default:${password}@cache.internal:99999`, 'cache.internal'],
  ])('%s=%s', (variable, value, host) => {
    const message = configError({ [variable]: value }, variable);
    expect(message).not.toContain(password);
    expect(message).toContain(':***@');
    expect(message).toContain(host); // the rest of the URL is still shown to help fix it
  });

  // BUG (src/config.ts, redactUrl, line 72): the pattern
  // /\/\/([^:@/]+):[^@/]*@/ needs a non-empty user name, so a URL with a
  // password but no user -- the usual Redis form "redis://:password@host" --
  // is echoed unredacted whenever it is refused (bad port, wrong scheme).
  it('redacts a password given without a user name (redis://:password@host)', () => {
    const message = configError({ REDIS_URL: `redis://:${password}@cache.internal:99999` }, 'REDIS_URL');
    expect(message).not.toContain(password);
  });

  // BUG (src/config.ts, redactUrl, line 72): `[^@/]*@` stops at the FIRST
  // "@", but URL parsers take the LAST "@" as the end of the credentials, so a
  // password containing an unescaped "@" is only partly redacted: for
  // "mysql://kaquan:S3cr3t@Pa55word@db/x" the message still shows
  // "Pa55word@db".
  it('redacts a password that contains an unescaped "@"', () => {
    const message = configError({ DATABASE_URL: 'mysql://kaquan:S3cr3t@Pa55word@db.internal/kaquan' }, 'DATABASE_URL');
    expect(message).not.toContain('Pa55word');
  });
});
