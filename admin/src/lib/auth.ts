import { api, ApiError } from './api';
import { createStore, useStore } from './store';

export interface StaffUser {
  id: string;
  email: string;
  name: string;
  role: string;
  totp_enabled: boolean;
  disabled: boolean;
  created_at: string;
  last_login_at: string | null;
}
export interface Me {
  user: StaffUser;
  permissions: string[];
}
/** `undefined` while loading, `null` when logged out. */
export type MeState = Me | null | undefined;

const meStore = createStore<MeState>(undefined);

/** Asks the server who is logged in (GET /admin/auth/me); a 401 means nobody. */
export async function refreshMe(): Promise<MeState> {
  try {
    meStore.set(await api.get<Me>('/admin/auth/me'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) meStore.set(null);
    else throw e;
  }
  return meStore.get();
}

export function setLoggedOut(): void {
  meStore.set(null);
}

export function useMe(): MeState {
  return useStore(meStore);
}

/** Whether the logged-in user's role grants `permission`. */
export function can(permission: string): boolean {
  return meStore.get()?.permissions.includes(permission) ?? false;
}

export async function logout(): Promise<void> {
  try {
    await api.post('/admin/auth/logout');
  } finally {
    meStore.set(null);
  }
}
