import { useEffect } from 'preact/hooks';
import { onUnauthenticated } from './lib/api';
import { refreshMe, setLoggedOut, useMe } from './lib/auth';
import { t, useLocale } from './lib/i18n';
import { Login } from './pages/login';
import { Layout } from './pages/layout';

/** Who is logged in decides between the login form and the panel; any 401 sends the user back to the form. */
export function App() {
  useLocale(); // re-render everything on a language switch
  const me = useMe();
  useEffect(() => {
    void refreshMe();
    return onUnauthenticated(() => setLoggedOut());
  }, []);
  if (me === undefined) return <div class="boot">{t('common.loading')}</div>;
  if (me === null) return <Login />;
  return <Layout me={me} />;
}
