import { AppError } from '../../lib/errors.js';

/**
 * Supplier base URLs are typed in by staff and then called by the server, so
 * they are a request-forgery risk: only http(s), no credentials or query in the
 * URL (they would end up in views and logs), and, when an allow-list is given,
 * only the hosts it names. An entry is an exact host name ("api.supplier.cn")
 * or a suffix wildcard ("*.supplier.cn", which does not match "supplier.cn").
 * An undefined allow-list allows every host; an empty one allows none.
 *
 * Returns the URL normalised to end with "/", so relative API paths append to it.
 */
export function assertSupplierUrl(raw: string, allowedHosts?: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('must be http or https');
  if (url.username || url.password) throw refuse('must not carry credentials');
  if (url.search || url.hash) throw refuse('must not have a query or fragment');
  if (allowedHosts && !hostAllowed(url.hostname, allowedHosts)) throw refuse(`host ${url.hostname} is not in the supplier allow-list`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

export function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    return e.startsWith('*.') ? host.endsWith(e.slice(1)) : host === e;
  });
}

function refuse(message: string) {
  return new AppError('VALIDATION_FAILED', `base_url: ${message}`, [{ field: 'base_url', message }]);
}
