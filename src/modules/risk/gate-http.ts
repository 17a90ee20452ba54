import type { FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import type { AssessInput, RiskDecision } from './service.js';

/** Largest X-Device-Signals header read; anything bigger is ignored (signals are stored, never trusted). */
const MAX_SIGNALS_BYTES = 2048;
const MAX_SIGNALS_KEYS = 32;

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? s : undefined;
};

/** X-Device-Signals: a flat JSON object of strings, numbers and booleans; a bad or oversized one is dropped, not refused. */
export function deviceSignalsOf(raw: string | undefined): Record<string, string | number | boolean> | undefined {
  if (!raw || Buffer.byteLength(raw) > MAX_SIGNALS_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const out: Record<string, string | number | boolean> = {};
  let n = 0;
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (++n > MAX_SIGNALS_KEYS) break;
    if (typeof v === 'string') out[k.slice(0, 64)] = v.slice(0, 256);
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') out[k.slice(0, 64)] = v;
  }
  return out;
}

/** What every channel can tell the gate about the request itself: IP, X-Device-Id, X-Device-Signals, X-Captcha. */
export function gateInputOf(request: FastifyRequest): Pick<AssessInput, 'ip' | 'deviceId' | 'deviceSignals' | 'captcha'> {
  const deviceId = header(request, 'x-device-id')?.slice(0, 128);
  const deviceSignals = deviceSignalsOf(header(request, 'x-device-signals'));
  const captcha = header(request, 'x-captcha');
  return {
    ip: request.ip,
    ...(deviceId ? { deviceId } : {}),
    ...(deviceSignals ? { deviceSignals } : {}),
    ...(captcha && captcha.length <= 4096 ? { captcha } : {}),
  };
}

export const captchaDetails = [{ field: 'X-Captcha', message: 'solve the challenge at /risk/captcha and retry with its payload' }];

/**
 * The one mapping of gate decisions to refusals: block is 403 RISK_BLOCKED
 * (the decision id is the support reference; the rules that matched stay
 * inside), challenge is 403 CHALLENGE_REQUIRED pointing at the captcha. Allow
 * and review come back for the channel to act on.
 */
export function refuseUnlessPassed(d: Pick<RiskDecision, 'decision_id' | 'action' | 'captcha'>): 'allow' | 'review' {
  if (d.action === 'block') throw new AppError('RISK_BLOCKED', `this request was refused by our risk controls; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
  if (d.action === 'challenge') {
    const why = d.captcha && d.captcha !== 'passed' ? ` (the captcha sent was ${d.captcha})` : '';
    throw new AppError('CHALLENGE_REQUIRED', `solve the challenge at /risk/captcha and retry with its payload in the X-Captcha header${why}`, captchaDetails);
  }
  return d.action;
}
