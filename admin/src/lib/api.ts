import { deviceHeaders } from './device';

/**
 * The one way the panel talks to the server. Same origin: the HttpOnly,
 * SameSite=strict session cookie rides along (that is also the CSRF defence,
 * so no extra header). Every request names this browser to the risk gate
 * (X-Device-Id, X-Device-Signals). Errors arrive as {"error":{code,message,details}}.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The first offending field, when the server named one (e.g. "otp", "body.name"). */
    readonly field: string | null,
    readonly details: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;
export interface WriteOptions {
  idempotencyKey?: string;
  /** A solved captcha (base64 ALTCHA payload) for a retry the risk gate answered with CHALLENGE_REQUIRED. */
  captcha?: string;
}
/** `{ data, has_more, next_cursor }`: every list on the server. */
export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

type Listener = (err: ApiError) => void;
const unauthenticatedListeners = new Set<Listener>();
/** Called when any request answers 401, so the shell can show the login form. */
export function onUnauthenticated(fn: Listener): () => void {
  unauthenticatedListeners.add(fn);
  return () => unauthenticatedListeners.delete(fn);
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

/** A fresh key per user action; retries of that action reuse it. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

function fieldOf(details: unknown): string | null {
  if (Array.isArray(details)) {
    const first = details[0] as { field?: unknown } | undefined;
    if (first && typeof first.field === 'string') return first.field;
  }
  return null;
}

async function request<T>(method: string, path: string, body?: unknown, opts: WriteOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...deviceHeaders() };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  if (opts.captcha) headers['x-captcha'] = opts.captcha;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', e instanceof Error ? e.message : 'network error', null, null);
  }
  const text = await res.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const err = new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, fieldOf(e?.details), e?.details ?? null);
    if (res.status === 401 && !path.startsWith('/admin/auth/login')) for (const fn of unauthenticatedListeners) fn(err);
    throw err;
  }
  return json as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', withQuery(path, query)),
  post: <T>(path: string, body?: unknown, opts?: WriteOptions) => request<T>('POST', path, body ?? {}, opts),
  put: <T>(path: string, body?: unknown, opts?: WriteOptions) => request<T>('PUT', path, body ?? {}, opts),
  patch: <T>(path: string, body?: unknown, opts?: WriteOptions) => request<T>('PATCH', path, body ?? {}, opts),
  del: <T>(path: string, opts?: WriteOptions) => request<T>('DELETE', path, undefined, opts),
};
