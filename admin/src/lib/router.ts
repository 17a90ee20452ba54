import { createStore, useStore } from './store';

/**
 * Hash routes (`/admin/#/reports?tab=sales`): the API owns every real path
 * under /admin/, so the panel's own paths live after the '#'.
 */
export interface Route {
  path: string;
  query: URLSearchParams;
}

function parse(): Route {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', qs = ''] = raw.split('?');
  return { path: path.startsWith('/') ? path : `/${path}`, query: new URLSearchParams(qs) };
}

const routeStore = createStore<Route>(parse());
window.addEventListener('hashchange', () => routeStore.set(parse()));

export function useRoute(): Route {
  return useStore(routeStore);
}

export function navigate(path: string, query?: Record<string, string>): void {
  const qs = query ? new URLSearchParams(query).toString() : '';
  location.hash = qs ? `${path}?${qs}` : path;
}

/** Replaces the query of the current route without adding a history entry per keystroke. */
export function replaceQuery(query: Record<string, string>): void {
  const { path } = routeStore.get();
  const qs = new URLSearchParams(query).toString();
  history.replaceState(null, '', `${location.pathname}${location.search}#${qs ? `${path}?${qs}` : path}`);
  routeStore.set(parse());
}

export function href(path: string): string {
  return `#${path}`;
}
