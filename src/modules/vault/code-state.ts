/**
 * The life of a code as an explicit state machine. Every state change in the
 * vault goes through `transitionFor`, and the SQL that applies it only
 * touches rows still in an allowed `from` state, so an impossible or raced
 * transition changes nothing and is refused.
 */
export const codeStates = ['available', 'reserved', 'sold', 'delivered', 'revealed', 'redeemed', 'expired', 'voided', 'recycled'] as const;
export type CodeState = (typeof codeStates)[number];

export const codeEventsByName = {
  /** an order holds the code until its payment deadline */
  reserve: { from: ['available'], to: 'reserved' },
  /** the reservation ended without payment (deadline passed, order cancelled) */
  release: { from: ['reserved'], to: 'available' },
  /** the order was paid */
  sell: { from: ['reserved'], to: 'sold' },
  /** the code was handed to its buyer (still hidden) */
  deliver: { from: ['sold'], to: 'delivered' },
  /** the owner (or an audited staff action) saw the secret */
  reveal: { from: ['delivered', 'revealed'], to: 'revealed' },
  /** used at the brand or a store */
  redeem: { from: ['delivered', 'revealed'], to: 'redeemed' },
  /** refunded while never revealed: back to stock */
  restock: { from: ['sold', 'delivered'], to: 'available' },
  /** passed its expiry while unsold */
  expire: { from: ['available', 'reserved'], to: 'expired' },
  /** taken out of circulation (leaked, refunded after reveal, faulty) */
  void: { from: ['available', 'reserved', 'sold', 'delivered', 'revealed'], to: 'voided' },
  /** an expired or voided code returned to its supplier for credit */
  recycle: { from: ['expired', 'voided'], to: 'recycled' },
} as const satisfies Record<string, { from: readonly CodeState[]; to: CodeState }>;

export type CodeEvent = keyof typeof codeEventsByName;

export function transitionFor(event: CodeEvent): { from: readonly CodeState[]; to: CodeState } {
  return codeEventsByName[event];
}

export function canTransition(from: CodeState, event: CodeEvent): boolean {
  return (codeEventsByName[event].from as readonly CodeState[]).includes(from);
}

/** States in which a code is counted as stock of its SKU. */
export const sellableState: CodeState = 'available';
export const terminalStates: readonly CodeState[] = ['redeemed', 'recycled'];
