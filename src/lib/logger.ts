import pino, { type LoggerOptions } from 'pino';
import { maskPhone, maskPhonesInText } from './mask.js';

/**
 * The one place where redaction is configured: secrets, passwords, tokens and
 * keys are removed, phone numbers are masked (138****1234), in every log line.
 */
const secretFields = [
  'password', 'newPassword', 'new_password', 'secret', 'token', 'otp', 'totp_secret', 'totpSecret', 'apiSecret', 'api_secret',
  'sessionToken', 'session_token', 'accessToken', 'access_token', 'code_secret', 'secrets', 'plain', 'masterKey',
];
const phoneFields = ['phone', 'mobile', 'phoneNumber', 'phone_number'];

const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-kq-signature"]',
  'res.headers["set-cookie"]',
  ...[...secretFields, ...phoneFields].flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
];

function censor(value: unknown, path: string[]): unknown {
  const last = path.at(-1) ?? '';
  if (phoneFields.includes(last) && typeof value === 'string') return maskPhone(value);
  return '[REDACTED]';
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: redactPaths, censor },
    hooks: {
      // Free-text messages may carry a phone number typed by a user.
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskPhonesInText(a) : a)) as Parameters<typeof method>;
        method.apply(this, masked);
      },
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream) {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
export type Logger = pino.Logger;
