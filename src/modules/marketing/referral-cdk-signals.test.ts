import { describe, expect, it } from 'vitest';
import { selfReferral } from './referral-cdk-signals.js';

describe('self-referral signals', () => {
  const referrer = { customerIds: ['cus_A'], phoneHashes: ['h1', 'h2'], deviceIds: ['d1'] };
  it('names every shared signal', () => {
    expect(selfReferral(referrer, { id: 'cus_A', phoneHash: 'h2', deviceId: 'd1' })).toEqual(['own_account', 'phone', 'device']);
    expect(selfReferral(referrer, { id: 'cus_B', phoneHash: 'h1' })).toEqual(['phone']);
  });
  it('nothing shared, or nothing known: not a self-referral', () => {
    expect(selfReferral(referrer, { id: 'cus_B', phoneHash: 'h9', deviceId: 'd9' })).toEqual([]);
    expect(selfReferral(referrer, { id: 'cus_B', phoneHash: null })).toEqual([]);
    expect(selfReferral({ customerIds: [], phoneHashes: [], deviceIds: [] }, { id: 'cus_B', phoneHash: null, deviceId: 'd1' })).toEqual([]);
  });
});
