import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

/**
 * Every environment variable kaquan reads, validated once at start-up. A wrong
 * value stops the start with one line naming the variable (ConfigError).
 * Defaults make `npm start` work on a fresh machine: embedded PostgreSQL
 * (PGlite) under DATA_DIR and in-process stand-ins for Redis.
 */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function fail(name: string, why: string, value: string | undefined): never {
  // One line, whatever the value holds.
  const shown = value === undefined ? '' : ` (got "${value.replace(/[\r\n]+/g, ' ')}")`;
  throw new ConfigError(`Invalid configuration: ${name} ${why}${shown}`);
}

function str(env: Env, name: string, fallback?: string): string {
  const v = env[name];
  if (v === undefined || v === '') {
    if (fallback === undefined) fail(name, 'is required', v);
    return fallback;
  }
  return v;
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) fail(name, `must be an integer between ${min} and ${max}`, raw);
  const n = Number(raw);
  if (n < min || n > max) fail(name, `must be an integer between ${min} and ${max}`, raw);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  return fail(name, 'must be true or false', raw);
}

/** An IANA time zone name the runtime knows (Intl). */
function timeZone(env: Env, name: string, fallback: string): string {
  const raw = str(env, name, fallback);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
  } catch {
    fail(name, 'must be an IANA time zone such as Asia/Shanghai', raw);
  }
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) fail(name, `must be one of ${allowed.join(', ')}`, raw);
  return raw as T;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return fail(name, `must be a URL (${protocols.join(' or ')})`, redactUrl(raw));
  }
  if (!protocols.includes(parsed.protocol)) fail(name, `must start with ${protocols.join(' or ')}`, redactUrl(raw));
  return raw;
}

/** Never echo a password that sits inside a connection string (the last '@' ends it, as in URL parsers). */
function redactUrl(raw: string): string {
  const start = raw.indexOf('//');
  const at = raw.lastIndexOf('@');
  if (start < 0 || at < start) return raw.replace(/[\r\n]/g, ' ');
  const user = raw.slice(start + 2, at).split(':')[0];
  return `${raw.slice(0, start + 2)}${user}:***${raw.slice(at)}`.replace(/[\r\n]/g, ' ');
}

function base64Key(name: string, raw: string): void {
  if (Buffer.from(raw, 'base64').length !== 32) fail(name, 'must be 32 bytes in base64', '***');
}

/**
 * Secrets that a production deployment must provide. Outside production they
 * are generated once and kept in DATA_DIR/secrets.json so that sessions and
 * encrypted codes survive restarts of the demo.
 */
interface GeneratedSecrets {
  sessionSecret: string;
  vaultMasterKeys: string;
  hmacKey: string;
}

function loadOrCreateDevSecrets(dataDir: string): GeneratedSecrets {
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as GeneratedSecrets;
  const secrets: GeneratedSecrets = {
    sessionSecret: randomBytes(32).toString('base64url'),
    vaultMasterKeys: `dev1:${randomBytes(32).toString('base64')}`,
    hmacKey: randomBytes(32).toString('base64'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** WeChat Pay API v3 merchant settings: all or none. */
function wechatPayConfig(env: Env) {
  const names = ['WECHAT_PAY_APP_ID', 'WECHAT_PAY_MCH_ID', 'WECHAT_PAY_SERIAL_NO', 'WECHAT_PAY_PRIVATE_KEY_FILE', 'WECHAT_PAY_API_V3_KEY', 'WECHAT_PAY_PLATFORM_KEYS_FILE'] as const;
  const given = names.filter((n) => optional(env, n));
  if (given.length === 0) return null;
  const missing = names.find((n) => !optional(env, n));
  if (missing) fail(missing, 'is required when any WECHAT_PAY_ setting is given', undefined);
  const apiV3Key = optional(env, 'WECHAT_PAY_API_V3_KEY')!;
  if (Buffer.byteLength(apiV3Key) !== 32) fail('WECHAT_PAY_API_V3_KEY', 'must be 32 bytes', '***');
  const read = (name: string) => {
    const file = optional(env, name)!;
    if (!existsSync(file)) fail(name, 'must name a readable file', file);
    return readFileSync(file, 'utf8');
  };
  let platformPublicKeys: Record<string, string>;
  try {
    platformPublicKeys = JSON.parse(read('WECHAT_PAY_PLATFORM_KEYS_FILE')) as Record<string, string>;
  } catch {
    return fail('WECHAT_PAY_PLATFORM_KEYS_FILE', 'must hold JSON {"serial": "-----BEGIN PUBLIC KEY-----..."}', optional(env, 'WECHAT_PAY_PLATFORM_KEYS_FILE'));
  }
  return {
    baseUrl: url(env, 'WECHAT_PAY_BASE_URL', ['https:', 'http:']),
    appId: optional(env, 'WECHAT_PAY_APP_ID')!,
    mchId: optional(env, 'WECHAT_PAY_MCH_ID')!,
    merchantSerialNo: optional(env, 'WECHAT_PAY_SERIAL_NO')!,
    merchantPrivateKeyPem: read('WECHAT_PAY_PRIVATE_KEY_FILE'),
    apiV3Key,
    platformPublicKeys,
  };
}

/**
 * Telegram Stars payments: on when TELEGRAM_BOT_TOKEN and
 * TELEGRAM_STARS_FEN_PER_STAR are set; the webhook secret is then required,
 * since it is all that authenticates a payment update.
 */
function telegramStarsConfig(env: Env) {
  const token = optional(env, 'TELEGRAM_BOT_TOKEN');
  const rawRate = optional(env, 'TELEGRAM_STARS_FEN_PER_STAR');
  // Never echo the token: it is the bot's password.
  if (token !== undefined && !/^\d+:[A-Za-z0-9_-]{20,}$/.test(token)) fail('TELEGRAM_BOT_TOKEN', 'must be a bot token from @BotFather (123456:ABC...)', '***');
  const apiRoot = url(env, 'TELEGRAM_API_ROOT', ['https:', 'http:']) ?? 'https://api.telegram.org';
  if (rawRate === undefined) return null;
  const fenPerStar = int(env, 'TELEGRAM_STARS_FEN_PER_STAR', 0, 1, 1_000_000);
  if (token === undefined) fail('TELEGRAM_BOT_TOKEN', 'is required when TELEGRAM_STARS_FEN_PER_STAR is set', undefined);
  const webhookSecret = optional(env, 'TELEGRAM_WEBHOOK_SECRET');
  if (webhookSecret === undefined) fail('TELEGRAM_WEBHOOK_SECRET', 'is required when Telegram Stars payments are on', undefined);
  if (!/^[A-Za-z0-9_-]{16,256}$/.test(webhookSecret)) fail('TELEGRAM_WEBHOOK_SECRET', 'must be 16-256 of A-Z, a-z, 0-9, _ and -', '***');
  return { botToken: token, fenPerStar, webhookSecret, apiRoot };
}

/**
 * The Telegram bot (bots/telegram): on when TELEGRAM_BOT_ENABLED. Long polling
 * (development) or webhook mode (production, several instances); the webhook
 * is PUBLIC_URL/bots/telegram/webhook, authenticated by TELEGRAM_WEBHOOK_SECRET.
 */
function telegramBotConfig(env: Env, nodeEnv: string) {
  if (!bool(env, 'TELEGRAM_BOT_ENABLED', false)) return null;
  const token = optional(env, 'TELEGRAM_BOT_TOKEN');
  if (token === undefined) fail('TELEGRAM_BOT_TOKEN', 'is required when TELEGRAM_BOT_ENABLED is on', undefined);
  if (!/^\d+:[A-Za-z0-9_-]{20,}$/.test(token)) fail('TELEGRAM_BOT_TOKEN', 'must be a bot token from @BotFather (123456:ABC...)', '***');
  const apiRoot = url(env, 'TELEGRAM_API_ROOT', ['https:', 'http:']) ?? 'https://api.telegram.org';
  const mode = oneOf(env, 'TELEGRAM_BOT_MODE', ['polling', 'webhook'] as const, nodeEnv === 'production' ? 'webhook' : 'polling');
  const webhookSecret = optional(env, 'TELEGRAM_WEBHOOK_SECRET');
  if (mode === 'webhook' && webhookSecret === undefined) fail('TELEGRAM_WEBHOOK_SECRET', 'is required when TELEGRAM_BOT_MODE=webhook', undefined);
  if (webhookSecret !== undefined && !/^[A-Za-z0-9_-]{16,256}$/.test(webhookSecret)) fail('TELEGRAM_WEBHOOK_SECRET', 'must be 16-256 of A-Z, a-z, 0-9, _ and -', '***');
  return { botToken: token, apiRoot, mode, webhookSecret: webhookSecret ?? null };
}

/**
 * Alerts also sent to an admin Telegram chat: on when ADMIN_ALERT_TELEGRAM_CHAT_ID
 * and TELEGRAM_BOT_TOKEN are set (the same bot and TELEGRAM_API_ROOT as Stars
 * payments). ADMIN_ALERT_KINDS limits it to some alert kinds (empty: all).
 */
function adminAlertChatConfig(env: Env) {
  const chatId = optional(env, 'ADMIN_ALERT_TELEGRAM_CHAT_ID');
  const kinds = (optional(env, 'ADMIN_ALERT_KINDS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const k of kinds) if (!/^[a-z0-9_.]{1,32}$/.test(k)) fail('ADMIN_ALERT_KINDS', 'must be a comma-separated list of alert kinds', k);
  if (chatId === undefined) return null;
  if (!/^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$/.test(chatId)) fail('ADMIN_ALERT_TELEGRAM_CHAT_ID', 'must be a numeric chat id (-100...) or @channelname', chatId);
  const token = optional(env, 'TELEGRAM_BOT_TOKEN');
  if (token === undefined) fail('TELEGRAM_BOT_TOKEN', 'is required when ADMIN_ALERT_TELEGRAM_CHAT_ID is set', undefined);
  if (!/^\d+:[A-Za-z0-9_-]{20,}$/.test(token)) fail('TELEGRAM_BOT_TOKEN', 'must be a bot token from @BotFather (123456:ABC...)', '***');
  const apiRoot = url(env, 'TELEGRAM_API_ROOT', ['https:', 'http:']) ?? 'https://api.telegram.org';
  return { chatId, botToken: token, apiRoot, kinds };
}

/** A WeChat EncodingAESKey: 43 characters that are the base64 of 32 bytes without the trailing "=". */
function encodingAesKey(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw !== undefined && !(/^[A-Za-z0-9+/]{43}$/.test(raw) && Buffer.from(`${raw}=`, 'base64').length === 32)) fail(name, 'must be the 43-character EncodingAESKey', '***');
  return raw;
}

/**
 * WeChat bots (bots/wechat), each off unless configured: wechaty with a
 * puppet (WECHATY_PUPPET), the Official Account webhook (WECHAT_OA_TOKEN;
 * safe mode with WECHAT_OA_AES_KEY + WECHAT_OA_APPID; customer-service
 * messages need WECHAT_OA_APPSECRET too) and the WeCom callback (all of
 * WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).
 */
function wechatBotsConfig(env: Env) {
  const puppet = optional(env, 'WECHATY_PUPPET');
  if (puppet !== undefined && !/^(@[a-z0-9-]+\/)?[a-z0-9-]+$/.test(puppet)) fail('WECHATY_PUPPET', 'must be a puppet package name (wechaty-puppet-xxx or @scope/name)', puppet);
  const oaToken = optional(env, 'WECHAT_OA_TOKEN');
  if (oaToken !== undefined && !/^[A-Za-z0-9]{3,32}$/.test(oaToken)) fail('WECHAT_OA_TOKEN', 'must be 3 to 32 letters or digits', '***');
  const oaAesKey = encodingAesKey(env, 'WECHAT_OA_AES_KEY');
  const oaAppId = optional(env, 'WECHAT_OA_APPID');
  const oaAppSecret = optional(env, 'WECHAT_OA_APPSECRET');
  if (oaToken === undefined && (oaAesKey || oaAppId || oaAppSecret)) fail('WECHAT_OA_TOKEN', 'is required when any WECHAT_OA_ setting is given', undefined);
  if (oaAesKey !== undefined && oaAppId === undefined) fail('WECHAT_OA_APPID', 'is required with WECHAT_OA_AES_KEY (safe mode)', undefined);
  if (oaAppSecret !== undefined && oaAppId === undefined) fail('WECHAT_OA_APPID', 'is required with WECHAT_OA_APPSECRET', undefined);
  if (oaAppId !== undefined && !/^wx[0-9a-f]{16}$/.test(oaAppId)) fail('WECHAT_OA_APPID', 'must be an AppID (wx + 16 hex digits)', oaAppId);
  if (oaAppSecret !== undefined && !/^[0-9a-f]{32}$/.test(oaAppSecret)) fail('WECHAT_OA_APPSECRET', 'must be 32 hex digits', '***');
  const wecomNames = ['WECOM_TOKEN', 'WECOM_AES_KEY', 'WECOM_CORP_ID'] as const;
  const wecomGiven = wecomNames.filter((n) => optional(env, n));
  if (wecomGiven.length > 0 && wecomGiven.length < wecomNames.length) fail(wecomNames.find((n) => !optional(env, n))!, 'is required when any WECOM_ setting is given', undefined);
  const wecomAesKey = encodingAesKey(env, 'WECOM_AES_KEY');
  return {
    wechaty: puppet ? { puppet, puppetToken: optional(env, 'WECHATY_PUPPET_TOKEN') } : null,
    officialAccount: oaToken ? { token: oaToken, aesKey: oaAesKey, appId: oaAppId, appSecret: oaAppSecret } : null,
    wecom: wecomAesKey ? { token: optional(env, 'WECOM_TOKEN')!, aesKey: wecomAesKey, corpId: optional(env, 'WECOM_CORP_ID')! } : null,
    apiBase: url(env, 'WECHAT_API_BASE', ['https:', 'http:']) ?? 'https://api.weixin.qq.com',
  };
}

/** The WeChat mini-program (login through code2session, phone numbers): off unless the AppID and AppSecret are given. */
function wechatMiniProgramConfig(env: Env) {
  const appId = optional(env, 'WECHAT_MP_APPID');
  const secret = optional(env, 'WECHAT_MP_SECRET');
  if ((appId === undefined) !== (secret === undefined)) fail(appId === undefined ? 'WECHAT_MP_APPID' : 'WECHAT_MP_SECRET', 'is required with the other WECHAT_MP_ setting', undefined);
  if (appId !== undefined && !/^wx[0-9a-f]{16}$/.test(appId)) fail('WECHAT_MP_APPID', 'must be an AppID (wx + 16 hex digits)', appId);
  if (secret !== undefined && !/^[0-9a-f]{32}$/.test(secret)) fail('WECHAT_MP_SECRET', 'must be 32 hex digits', '***');
  const apiBase = url(env, 'WECHAT_MP_API_BASE', ['https:', 'http:']) ?? 'https://api.weixin.qq.com';
  return appId && secret ? { appId, secret, apiBase } : null;
}

/** A comma-separated list of whole days (1-365), e.g. "7,1"; distinct, largest first. */
function reminderDays(env: Env, name: string, fallback: string): number[] {
  const raw = optional(env, name) ?? fallback;
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 365)) fail(name, 'must be a comma-separated list of days between 1 and 365', raw);
  return [...new Set(parts.map(Number))].sort((a, b) => b - a);
}

/** A comma-separated list of host names; a leading "*." allows subdomains. */
function hostList(env: Env, name: string): string[] {
  const hosts = (optional(env, name) ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const h of hosts) if (!/^(\*\.)?[a-z0-9.-]+(:\d+)?$/.test(h)) fail(name, 'must be a comma-separated list of host names (a leading *. allows subdomains)', h);
  return hosts;
}

export function loadConfig(env: Env = process.env) {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const port = int(env, 'PORT', 3000, 0, 65535);
  const dataDir = resolve(str(env, 'DATA_DIR', './data'));
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);

  const needsGenerated = !optional(env, 'SESSION_SECRET') || !optional(env, 'VAULT_MASTER_KEYS') || !optional(env, 'HMAC_KEY');
  if (needsGenerated && nodeEnv === 'production') {
    const missing = ['SESSION_SECRET', 'VAULT_MASTER_KEYS', 'HMAC_KEY'].find((n) => !optional(env, n))!;
    fail(missing, 'is required when NODE_ENV=production', undefined);
  }
  const generated = needsGenerated ? loadOrCreateDevSecrets(dataDir) : undefined;

  const sessionSecret = optional(env, 'SESSION_SECRET') ?? generated!.sessionSecret;
  if (sessionSecret.length < 32) fail('SESSION_SECRET', 'must be at least 32 characters', '***');

  const vaultMasterKeys = optional(env, 'VAULT_MASTER_KEYS') ?? generated!.vaultMasterKeys;
  const keyIds: string[] = [];
  for (const part of vaultMasterKeys.split(',').map((s) => s.trim()).filter(Boolean)) {
    const idx = part.indexOf(':');
    if (idx <= 0) fail('VAULT_MASTER_KEYS', 'must be a list of id:base64key', '***');
    base64Key('VAULT_MASTER_KEYS', part.slice(idx + 1));
    if (keyIds.includes(part.slice(0, idx))) fail('VAULT_MASTER_KEYS', `names key id ${part.slice(0, idx)} twice`, '***');
    keyIds.push(part.slice(0, idx));
  }
  if (keyIds.length === 0) fail('VAULT_MASTER_KEYS', 'must name at least one key', '***');
  const vaultActiveKeyId = str(env, 'VAULT_ACTIVE_KEY_ID', keyIds.at(-1));
  if (!keyIds.includes(vaultActiveKeyId)) fail('VAULT_ACTIVE_KEY_ID', `must be one of the ids in VAULT_MASTER_KEYS (${keyIds.join(', ')})`, vaultActiveKeyId);

  const hmacKey = optional(env, 'HMAC_KEY') ?? generated!.hmacKey;
  base64Key('HMAC_KEY', hmacKey);

  const corsOrigins = (optional(env, 'CORS_ORIGINS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    let protocol = '';
    try {
      protocol = new URL(origin).protocol;
    } catch {
      /* refused below */
    }
    if (protocol !== 'http:' && protocol !== 'https:') fail('CORS_ORIGINS', 'must be a comma-separated list of http(s) origins', origin);
  }

  const supplierUrlAllowlist = hostList(env, 'SUPPLIER_URL_ALLOWLIST');

  const host = str(env, 'HOST', '127.0.0.1');
  return {
    nodeEnv,
    host,
    port,
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`,
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, nodeEnv === 'test' ? 'silent' : 'info'),
    dataDir,
    databaseUrl,
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1, 200),
    redisUrl,
    redisPrefix: str(env, 'REDIS_PREFIX', 'kq:'),
    /** The time zone whose calendar days the reports and dashboards count in (analytics). */
    reportTimezone: timeZone(env, 'REPORT_TIMEZONE', 'Asia/Shanghai'),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    corsOrigins,
    sessionSecret,
    sessionTtlMinutes: int(env, 'SESSION_TTL_MINUTES', 12 * 60, 5, 30 * 24 * 60),
    vaultMasterKeys,
    vaultActiveKeyId,
    hmacKey,
    loginMaxFailsPerAccount: int(env, 'LOGIN_MAX_FAILS_PER_ACCOUNT', 5, 1, 1000),
    loginMaxFailsPerIp: int(env, 'LOGIN_MAX_FAILS_PER_IP', 30, 1, 100000),
    loginBlockMinutes: int(env, 'LOGIN_BLOCK_MINUTES', 15, 1, 24 * 60),
    signatureToleranceSeconds: int(env, 'SIGNATURE_TOLERANCE_SECONDS', 300, 30, 3600),
    vaultImportMaxBytes: int(env, 'VAULT_IMPORT_MAX_BYTES', 100 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    vaultExpiryAlertDays: int(env, 'VAULT_EXPIRY_ALERT_DAYS', 7, 1, 365),
    supplierUrlAllowlist,
    // Supplier base URLs on loopback, private or link-local addresses (cloud metadata): refused in production unless the host is allow-listed.
    supplierAllowPrivateNetworks: bool(env, 'SUPPLIER_ALLOW_PRIVATE_NETWORKS', nodeEnv !== 'production'),
    orderPaymentWindowMinutes: int(env, 'ORDER_PAYMENT_WINDOW_MINUTES', 10, 1, 24 * 60),
    orderMaxUnpaidPerBuyer: int(env, 'ORDER_MAX_UNPAID_PER_BUYER', 3, 1, 100),
    // Stored responses of retriable writes: a client may retry that late, so never less than 90 days.
    idempotencyRetentionDays: int(env, 'IDEMPOTENCY_RETENTION_DAYS', 90, 90, 3650),
    // Agent withdrawals: the smallest amount, and the fee (basis points of the amount, never below the minimum fee).
    withdrawalMinFen: int(env, 'WITHDRAWAL_MIN_FEN', 10_000, 1, 100_000_000_00),
    withdrawalFeeBps: int(env, 'WITHDRAWAL_FEE_BPS', 0, 0, 5_000),
    withdrawalFeeMinFen: int(env, 'WITHDRAWAL_FEE_MIN_FEN', 0, 0, 1_000_000),
    // Withdrawal controls: two finance approvers at or above this amount; per agent and China day, at most this much and this many.
    withdrawalDualApprovalFen: int(env, 'WITHDRAWAL_DUAL_APPROVAL_FEN', 500_000, 1, 100_000_000_00),
    withdrawalDailyLimitFen: int(env, 'WITHDRAWAL_DAILY_LIMIT_FEN', 5_000_000, 1, 100_000_000_00),
    withdrawalDailyCount: int(env, 'WITHDRAWAL_DAILY_COUNT', 3, 1, 1_000),
    // Days an accrued commission stays pending (the refund window) before the agent may withdraw it.
    commissionHoldDays: int(env, 'COMMISSION_HOLD_DAYS', 7, 0, 365),
    // Points (积分): earned per 100 fen (one yuan) paid on delivered customer orders (0: off); days a lot lives (0: never expires).
    pointsPer100Fen: int(env, 'POINTS_PER_100_FEN', 1, 0, 10_000),
    pointsExpiryDays: int(env, 'POINTS_EXPIRY_DAYS', 365, 0, 3650),
    /** Redemption-code guessing: failures in 10 minutes per customer or device, and per IP, before POST /open/v1/cdks/redeem answers 429 without looking. */
    cdkLockoutFailures: int(env, 'CDK_LOCKOUT_FAILURES', 10, 1, 1000),
    cdkLockoutIpFailures: int(env, 'CDK_LOCKOUT_IP_FAILURES', 30, 1, 10_000),
    /** Store staff guessing codes: failed verify/redeem lookups (unknown code or QR, not accepted here) per staff member and per store in the window, before those routes answer 429 without looking. */
    staffVerifyLockoutFailures: int(env, 'STAFF_VERIFY_LOCKOUT_FAILURES', 10, 1, 1000),
    staffVerifyLockoutStoreFailures: int(env, 'STAFF_VERIFY_LOCKOUT_STORE_FAILURES', 30, 1, 10_000),
    staffVerifyLockoutWindowSeconds: int(env, 'STAFF_VERIFY_LOCKOUT_WINDOW_SECONDS', 600, 1, 86_400),
    /** POST /mp/v1/login attempts per client IP in the window (each one costs a WeChat code2session call). */
    mpLoginPerIp: int(env, 'MP_LOGIN_PER_IP', 30, 1, 1_000_000),
    mpLoginWindowSeconds: int(env, 'MP_LOGIN_WINDOW_SECONDS', 60, 1, 3600),
    // Join applications under an upline's link or code: approved at once instead of waiting for the upline or staff.
    agentJoinAutoApprove: bool(env, 'AGENT_JOIN_AUTO_APPROVE', false),
    // Which agent keeps a customer reached by several agents' links (see agents/binding-rules.ts), and for how many days (0: for good).
    referralBindingMode: oneOf(env, 'REFERRAL_BINDING_MODE', ['first_touch', 'last_touch'] as const, 'first_touch'),
    referralBindingDays: int(env, 'REFERRAL_BINDING_DAYS', 30, 0, 3650),
    sandboxPayments: bool(env, 'SANDBOX_PAYMENTS', nodeEnv !== 'production'),
    wechatPay: wechatPayConfig(env),
    telegramStars: telegramStarsConfig(env),
    telegramBot: telegramBotConfig(env, nodeEnv),
    webhookUrlAllowlist: hostList(env, 'WEBHOOK_URL_ALLOWLIST'),
    webhookAllowPrivateNetworks: bool(env, 'WEBHOOK_ALLOW_PRIVATE_NETWORKS', nodeEnv !== 'production'),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 500, 60_000),
    webhookRetentionDays: int(env, 'WEBHOOK_RETENTION_DAYS', 30, 1, 3650),
    // Risk gate: the ALTCHA captcha key (derived from HMAC_KEY when not given), its lifetime and work factor; built-in rules seeded on start.
    captchaHmacKey: optional(env, 'CAPTCHA_HMAC_KEY'),
    riskCaptchaTtlSeconds: int(env, 'RISK_CAPTCHA_TTL_SECONDS', 120, 10, 3600),
    riskCaptchaMaxNumber: int(env, 'RISK_CAPTCHA_MAX_NUMBER', 100_000, 100, 10_000_000),
    riskSeedRules: bool(env, 'RISK_SEED_RULES', true),
    // Backtests read past decisions in pages of this many rows.
    riskBacktestBatchSize: int(env, 'RISK_BACKTEST_BATCH_SIZE', 5000, 1, 100_000),
    // Staff risk: codes one staff member reveals per hour / exports per day before an alert; blocked at STAFF_RISK_BLOCK_MULTIPLIER times that.
    staffRevealAlertPerHour: int(env, 'STAFF_REVEAL_ALERT_PER_HOUR', 20, 1, 1_000_000),
    staffExportAlertCodesPerDay: int(env, 'STAFF_EXPORT_ALERT_CODES_PER_DAY', 5000, 1, 100_000_000),
    staffRiskBlockMultiplier: int(env, 'STAFF_RISK_BLOCK_MULTIPLIER', 3, 2, 100),
    adminAlertChat: adminAlertChatConfig(env),
    wechatBots: wechatBotsConfig(env),
    wechatMiniProgram: wechatMiniProgramConfig(env),
    // Wallet expiry reminders: one rule per number of days before a code expires; the mini-program subscribe message template.
    walletReminderDays: reminderDays(env, 'WALLET_REMINDER_DAYS', '7,1'),
    wechatMpReminderTemplateId: optional(env, 'WECHAT_MP_REMINDER_TEMPLATE_ID'),
    // The learned risk score (npm run risk:train); relative to the working directory. A missing file means no score.
    riskModelPath: str(env, 'RISK_MODEL_PATH', 'models/risk-model-v1.json'),
    jobsEnabled: bool(env, 'JOBS_ENABLED', true),
    seedDemo: bool(env, 'SEED_DEMO', nodeEnv !== 'production'),
    demoSupplier: bool(env, 'DEMO_SUPPLIER', nodeEnv !== 'production'),
    demoSupplierPort: int(env, 'DEMO_SUPPLIER_PORT', 4010, 0, 65535),
  };
}

export type Config = ReturnType<typeof loadConfig>;
