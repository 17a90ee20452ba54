import { describe, expect, it } from 'vitest';
import { isDependencyUnavailable } from './unavailable.js';

describe('isDependencyUnavailable', () => {
  it('recognises database and Redis outages, also wrapped as a cause', () => {
    expect(isDependencyUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDependencyUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isDependencyUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDependencyUnavailable(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe(true);
    expect(isDependencyUnavailable(new Error('Redis did not become ready within 5 s'))).toBe(true);
    expect(isDependencyUnavailable(new Error('Failed query: select 1', { cause: Object.assign(new Error('the database system is starting up'), { code: '57P03' }) }))).toBe(true);
  });

  it('leaves bugs and ordinary database errors alone', () => {
    expect(isDependencyUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDependencyUnavailable(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
    expect(isDependencyUnavailable(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(false);
    expect(isDependencyUnavailable(undefined)).toBe(false);
    expect(isDependencyUnavailable('ECONNREFUSED')).toBe(false);
  });
});
