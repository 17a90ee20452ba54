import { zhCN } from '../i18n/zh-CN';
import { en } from '../i18n/en';
import { opsZhCN } from '../i18n/ops.zh-CN';
import { opsEn } from '../i18n/ops.en';
import { createStore, useStore } from './store';

/**
 * Two languages, zh-CN by default. Each English dictionary is typed against
 * its Chinese one, so a key missing in either language fails `tsc -p admin`.
 */
export const locales = ['zh-CN', 'en'] as const;
export type Locale = (typeof locales)[number];

const dictionaries = {
  'zh-CN': { ...zhCN, ...opsZhCN },
  en: { ...en, ...opsEn },
} satisfies Record<Locale, Record<string, string>>;
export type MessageKey = keyof (typeof dictionaries)['zh-CN'];

const STORAGE_KEY = 'kq.admin.locale';
function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch {
    /* storage may be disabled */
  }
  return 'zh-CN';
}

const localeStore = createStore<Locale>(initialLocale());
document.documentElement.lang = localeStore.get();

export function getLocale(): Locale {
  return localeStore.get();
}

export function setLocale(next: Locale): void {
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* ignore */
  }
  document.documentElement.lang = next;
  localeStore.set(next);
}

/** Current locale and its setter; a component using it re-renders on a switch. */
export function useLocale(): [Locale, (next: Locale) => void] {
  return [useStore(localeStore), setLocale];
}

/** The text for `key` in the current language; `{name}` placeholders are filled from `vars`. */
export function t(key: MessageKey, vars?: Record<string, string | number>): string {
  const dict: Record<string, string> = dictionaries[localeStore.get()];
  const text = dict[key] ?? key;
  return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text;
}

/** Whether `key` is a known message (for keys computed at run time, e.g. from a registry). */
export function hasMessage(key: string): key is MessageKey {
  return key in dictionaries['zh-CN'];
}

/** Number and date formatting in the current language. */
export function formatNumber(n: number): string {
  return new Intl.NumberFormat(localeStore.get()).format(n);
}
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(localeStore.get(), { hour12: false });
}
