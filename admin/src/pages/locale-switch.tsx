import { locales, useLocale, t } from '../lib/i18n';

export function LocaleSwitch() {
  const [locale, setLocale] = useLocale();
  return (
    <select class="locale-switch" aria-label={t('layout.language')} data-testid="locale-switch" value={locale} onChange={(e) => setLocale((e.target as HTMLSelectElement).value as (typeof locales)[number])}>
      <option value="zh-CN">中文</option>
      <option value="en">English</option>
    </select>
  );
}
