import { describe, expect, it } from 'vitest';
import { entryWithin, outOfScopeAgent, type ChainScopeRow } from './product-scope.js';

const sku = { id: 'sku_A', category: 'gift' };

describe('product scope along a chain', () => {
  it('no rows anywhere: everything is in scope', () => {
    expect(outOfScopeAgent([], sku)).toBeNull();
  });

  it('every agent with rows must cover the SKU, by id or by category', () => {
    const rows: ChainScopeRow[] = [
      { agentId: 'agt_child', type: 'sku', ref: 'sku_A' },
      { agentId: 'agt_root', type: 'category', ref: 'gift' },
    ];
    expect(outOfScopeAgent(rows, sku)).toBeNull();
    expect(outOfScopeAgent(rows, { id: 'sku_B', category: 'gift' })).toBe('agt_child');
    expect(outOfScopeAgent(rows, { id: 'sku_A', category: 'games' })).toBe('agt_root');
  });

  it('an entry stays within an upline chain only when each scope there covers it', () => {
    const root = [{ type: 'category' as const, ref: 'gift' }];
    const mid = [{ type: 'sku' as const, ref: 'sku_A' }];
    expect(entryWithin({ type: 'sku', ref: 'sku_A' }, 'gift', [root, mid])).toBe(true);
    expect(entryWithin({ type: 'sku', ref: 'sku_B' }, 'gift', [root, mid])).toBe(false);
    expect(entryWithin({ type: 'category', ref: 'gift' }, undefined, [root])).toBe(true);
    // A category is not within a scope that lists only some of its SKUs.
    expect(entryWithin({ type: 'category', ref: 'gift' }, undefined, [mid])).toBe(false);
    expect(entryWithin({ type: 'sku', ref: 'sku_X' }, undefined, [root])).toBe(false);
    expect(entryWithin({ type: 'category', ref: 'games' }, undefined, [])).toBe(true);
  });
});
