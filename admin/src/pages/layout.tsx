import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { logout, type Me } from '../lib/auth';
import { hasMessage, t } from '../lib/i18n';
import { href, navigate, useRoute } from '../lib/router';
import { findPage, groups, homePath, pages, type PageDef } from './registry';
import { LocaleSwitch } from './locale-switch';

const loaded = new Map<PageDef, ComponentType>();

function title(page: PageDef): string {
  return hasMessage(page.titleKey) ? t(page.titleKey) : page.titleKey;
}

/** The frame around every page: navigation grouped and filtered by the role's permissions, user menu, language. */
export function Layout({ me }: { me: Me }) {
  const route = useRoute();
  const allowed = (p: PageDef) => me.permissions.includes(p.permission);
  const page = findPage(route.path);

  useEffect(() => {
    if (route.path === '/') navigate(homePath(me.permissions));
  }, [route.path, me]);

  return (
    <div class="shell">
      <aside class="sidebar">
        <div class="brand">{t('app.title')}</div>
        <nav data-testid="nav">
          {groups.map((g) => {
            const items = pages.filter((p) => p.group === g && !p.hidden && allowed(p));
            if (items.length === 0) return null;
            return (
              <section key={g} class="nav-group">
                <h4>{t(`group.${g}`)}</h4>
                {items.map((p) => (
                  <a key={p.path} href={href(p.path)} class={page === p ? 'active' : ''} data-path={p.path}>
                    {title(p)}
                  </a>
                ))}
              </section>
            );
          })}
        </nav>
      </aside>
      <div class="main">
        <header class="topbar">
          <span class="topbar-title">{page ? title(page) : ''}</span>
          <span class="topbar-right">
            <span class="user" data-testid="user">
              {me.user.name} · {t('layout.role', { role: me.user.role })}
            </span>
            <LocaleSwitch />
            <button type="button" onClick={() => void logout()} data-testid="logout">
              {t('layout.logout')}
            </button>
          </span>
        </header>
        {!me.user.totp_enabled && route.path !== '/account' && (
          <div class="banner warn" data-testid="enrol-banner">
            {t('layout.enrol_banner')} <a href={href('/account')}>{t('layout.enrol_link')}</a>
          </div>
        )}
        <main class="content">
          {route.path === '/' ? null : !page ? (
            <p class="notice">{t('page.not_found', { path: route.path })}</p>
          ) : !allowed(page) ? (
            <div class="notice forbidden" role="alert" data-testid="forbidden">
              <h2>{t('page.forbidden_title')}</h2>
              <p>{t('page.forbidden', { role: me.user.role, permission: page.permission })}</p>
            </div>
          ) : (
            <PageHost page={page} />
          )}
        </main>
      </div>
    </div>
  );
}

/** Loads a page's code on first visit (each page is its own chunk) and keeps it for later visits. */
function PageHost({ page }: { page: PageDef }) {
  const [, setTick] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const Component = loaded.get(page);
  useEffect(() => {
    if (loaded.has(page)) return;
    let live = true;
    setError(null);
    page
      .component()
      .then((m) => {
        loaded.set(page, m.default);
        if (live) setTick((n) => n + 1);
      })
      .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      live = false;
    };
  }, [page]);
  if (error) return <p class="error">{t('page.load_failed')}: {error}</p>;
  if (!Component) return <p class="muted">{t('common.loading')}</p>;
  return <Component />;
}
