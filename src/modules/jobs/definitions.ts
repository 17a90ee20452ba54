import type { Services } from '../../services.js';
import type { JobDefinition } from './engine.js';

/** Every recurring and on-demand job of the platform, in one list. */
export function jobDefinitions(s: Services): JobDefinition[] {
  return [
    {
      name: 'auth.purge-expired-sessions',
      cron: '17 * * * *',
      handler: async () => {
        await s.auth.purgeExpiredSessions();
      },
    },
  ];
}
