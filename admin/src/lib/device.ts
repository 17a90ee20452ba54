/**
 * Who the panel is, for the server's risk gate: a random device id kept in
 * localStorage (stable across reloads and sign-ins on this browser) and a few
 * coarse signals. The server stores the signals but never trusts them
 * (src/modules/risk/gate-http.ts: a flat JSON object, at most 2 KB and 32 keys).
 */
const STORAGE_KEY = 'kq.admin.device';
let memoryId: string | null = null;

/** The id sent as X-Device-Id; when storage is disabled it lives as long as the page. */
export function deviceId(): string {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && /^[\w-]{8,128}$/.test(saved)) return saved;
    const id = crypto.randomUUID();
    localStorage.setItem(STORAGE_KEY, id);
    return id;
  } catch {
    memoryId ??= crypto.randomUUID();
    return memoryId;
  }
}

let signals: string | null = null;
/** X-Device-Signals: compact and computed once per page (none of these change while it is open). */
export function deviceSignals(): string {
  if (signals) return signals;
  const nav = navigator as Navigator & { userAgentData?: { platform?: string } };
  const out: Record<string, string | number> = {
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone ?? '',
    lang: nav.language ?? '',
    screen: `${screen.width}x${screen.height}`,
    platform: nav.userAgentData?.platform ?? nav.platform ?? '',
    cores: nav.hardwareConcurrency ?? 0,
  };
  // A header value must be Latin-1; the signals are coarse anyway.
  signals = JSON.stringify(out).replace(/[^\x20-\x7e]/g, '');
  return signals;
}

/** The headers every API request carries. */
export function deviceHeaders(): Record<string, string> {
  return { 'x-device-id': deviceId(), 'x-device-signals': deviceSignals() };
}
