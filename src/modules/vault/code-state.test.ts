import { describe, expect, it } from 'vitest';
import { canTransition, codeEventsByName, codeStates, sellableState, terminalStates, transitionFor, type CodeEvent, type CodeState } from './code-state.js';

/** The life of a code, written out by hand: the state machine must say exactly this. */
const expected: Record<CodeEvent, { from: CodeState[]; to: CodeState }> = {
  reserve: { from: ['available'], to: 'reserved' },
  release: { from: ['reserved'], to: 'available' },
  sell: { from: ['reserved'], to: 'sold' },
  deliver: { from: ['sold'], to: 'delivered' },
  reveal: { from: ['delivered', 'revealed'], to: 'revealed' },
  redeem: { from: ['delivered', 'revealed'], to: 'redeemed' },
  restock: { from: ['sold', 'delivered'], to: 'available' },
  expire: { from: ['available', 'reserved'], to: 'expired' },
  void: { from: ['available', 'reserved', 'sold', 'delivered', 'revealed'], to: 'voided' },
  recycle: { from: ['expired', 'voided'], to: 'recycled' },
};
const events = Object.keys(expected) as CodeEvent[];

describe('code state machine', () => {
  it('knows exactly these states and events', () => {
    expect([...codeStates]).toEqual(['available', 'reserved', 'sold', 'delivered', 'revealed', 'redeemed', 'expired', 'voided', 'recycled']);
    expect(Object.keys(codeEventsByName).sort()).toEqual([...events].sort());
    expect(sellableState).toBe('available');
    expect([...terminalStates]).toEqual(['redeemed', 'recycled']);
  });

  for (const event of events) {
    it(`${event}: allowed from ${expected[event].from.join(', ')} only, to ${expected[event].to}`, () => {
      const t = transitionFor(event);
      expect(t.to).toBe(expected[event].to);
      expect([...t.from].sort()).toEqual([...expected[event].from].sort());
      const allowed = codeStates.filter((s) => canTransition(s, event));
      expect(allowed.sort()).toEqual([...expected[event].from].sort());
    });
  }

  it('refuses the impossible transitions', () => {
    const impossible: [CodeState, CodeEvent][] = [
      ['available', 'sell'], // must be reserved first
      ['available', 'deliver'],
      ['reserved', 'deliver'],
      ['reserved', 'reserve'], // sold twice
      ['sold', 'reserve'],
      ['sold', 'redeem'],
      ['delivered', 'expire'],
      ['revealed', 'restock'], // a revealed code never goes back to stock
      ['redeemed', 'void'],
      ['redeemed', 'restock'],
      ['expired', 'reserve'],
      ['expired', 'release'],
      ['voided', 'reserve'],
      ['voided', 'void'], // voiding twice is refused, not a no-op
      ['recycled', 'recycle'],
    ];
    for (const [from, event] of impossible) expect(canTransition(from, event), `${from} -${event}->`).toBe(false);
  });

  it('terminal states allow no event at all', () => {
    for (const s of terminalStates) expect(events.filter((e) => canTransition(s, e))).toEqual([]);
  });

  it('every state except the terminal ones has a way out, and every state can be reached (available is where imports start)', () => {
    for (const s of codeStates) {
      const out = events.filter((e) => canTransition(s, e));
      if (terminalStates.includes(s)) expect(out).toEqual([]);
      else expect(out.length, s).toBeGreaterThan(0);
    }
    const reachable = new Set(events.map((e) => transitionFor(e).to));
    expect(codeStates.filter((s) => !reachable.has(s))).toEqual([]);
  });
});
