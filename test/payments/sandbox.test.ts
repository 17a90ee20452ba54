import { describe, expect, it } from 'vitest';
import { ManualClock, MINUTE, SECOND } from '../../src/lib/clock.js';
import { InvalidNotificationError } from '../../src/modules/payments/provider.js';
import { createSandboxProvider, signSandboxNotification } from '../../src/modules/payments/sandbox.js';

const SECRET = 'sandbox-secret-for-tests';

function setup() {
  const clock = new ManualClock('2026-03-01T04:00:00Z');
  return { clock, provider: createSandboxProvider({ secret: SECRET, clock }) };
}

const paid = { trade_no: 'KQSB000001', amount_fen: 1999, status: 'succeeded', txn_id: 'sbx_txn_1' } as const;

describe('sandbox provider (demos and tests only)', () => {
  it('create hands the client a pay_url hint and keeps nothing outside the process', async () => {
    const { clock, provider } = setup();
    expect(provider.name).toBe('sandbox');
    const result = await provider.create({
      tradeNo: 'KQSB000001',
      orderId: 'ord_1',
      amountFen: 1999,
      description: 'demo',
      notifyUrl: 'http://localhost/notify',
      expiresAt: new Date(clock.now().getTime() + 15 * MINUTE),
    });
    expect(result).toEqual({
      clientParams: { sandbox: true, trade_no: 'KQSB000001', amount_fen: 1999, expires_at: '2026-03-01T04:15:00.000Z', pay_url: '/sandbox/pay/KQSB000001' },
      providerData: { sandbox: true },
    });
    await expect(provider.create({ ...input(clock), amountFen: 1.5 })).rejects.toThrow(/integer of fen/);
  });

  it('a signed notification verifies and parses exactly', async () => {
    const { clock, provider } = setup();
    const n = signSandboxNotification(SECRET, paid, clock.now());
    expect(n.headers['X-Sandbox-Timestamp']).toBe('1772337600');
    expect(JSON.parse(n.body)).toEqual({ ...paid, timestamp: 1772337600 });
    expect(await provider.parseNotification(n.headers, n.body)).toEqual({
      tradeNo: 'KQSB000001',
      status: 'succeeded',
      providerTxnId: 'sbx_txn_1',
      amountFen: 1999,
      paidAt: clock.now(),
    });
    const lower = Object.fromEntries(Object.entries(n.headers).map(([k, v]) => [k.toLowerCase(), v]));
    await expect(provider.parseNotification(lower, n.body)).resolves.toMatchObject({ amountFen: 1999 });
  });

  it('stale, future, tampered, re-signed with another secret or unsigned notifications are refused', async () => {
    const { clock, provider } = setup();
    const n = signSandboxNotification(SECRET, paid, clock.now());
    const refuse = (headers: Record<string, string>, body: string) => expect(provider.parseNotification(headers, body)).rejects.toThrow(InvalidNotificationError);

    await refuse(n.headers, n.body.replace('1999', '1'));
    await refuse({ ...n.headers, 'X-Sandbox-Timestamp': String(1772337600 + 1) }, n.body);
    const other = signSandboxNotification('another-secret-0000', paid, clock.now());
    await refuse(other.headers, other.body);
    await refuse({ 'X-Sandbox-Timestamp': n.headers['X-Sandbox-Timestamp'] ?? '' }, n.body);

    clock.advance(300 * SECOND);
    await expect(provider.parseNotification(n.headers, n.body)).resolves.toMatchObject({ status: 'succeeded' });
    clock.advance(1 * SECOND);
    await expect(provider.parseNotification(n.headers, n.body)).rejects.toThrow(/301 s away/);
    clock.advance(-602 * SECOND);
    await expect(provider.parseNotification(n.headers, n.body)).rejects.toThrow(/301 s away/);
  });

  it('the body timestamp must be the signed one; amounts must be integers; success needs a txn id', async () => {
    const { clock, provider } = setup();
    const now = clock.now();
    const ts = Math.floor(now.getTime() / 1000);
    const mismatched = signSandboxNotification(SECRET, { ...paid, timestamp: ts - 5 }, now);
    mismatched.headers['X-Sandbox-Timestamp'] = String(ts);
    await expect(provider.parseNotification(mismatched.headers, mismatched.body)).rejects.toThrow(InvalidNotificationError);

    const fractional = signSandboxNotification(SECRET, { ...paid, amount_fen: 19.99 }, now);
    await expect(provider.parseNotification(fractional.headers, fractional.body)).rejects.toThrow(/integer of fen/);
    const noTxn = signSandboxNotification(SECRET, { trade_no: 'KQSB000002', amount_fen: 10, status: 'succeeded' }, now);
    await expect(provider.parseNotification(noTxn.headers, noTxn.body)).rejects.toThrow(/txn_id/);
    const failed = signSandboxNotification(SECRET, { trade_no: 'KQSB000002', amount_fen: 10, status: 'failed' }, now);
    expect(await provider.parseNotification(failed.headers, failed.body)).toEqual({ tradeNo: 'KQSB000002', status: 'failed' });
  });

  it('query answers from markPaid; created-and-expired is closed; unknown stays pending', async () => {
    const { clock, provider } = setup();
    expect(await provider.query('KQSB000009')).toEqual({ tradeNo: 'KQSB000009', status: 'pending' });
    await provider.create(input(clock, 'KQSB000010'));
    clock.advance(16 * MINUTE);
    expect(await provider.query('KQSB000010')).toEqual({ tradeNo: 'KQSB000010', status: 'closed' });

    const state = provider.markPaid('KQSB000011', 2500);
    expect(state).toEqual({ tradeNo: 'KQSB000011', status: 'succeeded', providerTxnId: 'sandbox_txn_KQSB000011', amountFen: 2500, paidAt: clock.now() });
    expect(await provider.query('KQSB000011')).toEqual(state);
    expect(() => provider.markPaid('KQSB000012', 0.5)).toThrow(/integer of fen/);
  });

  it('refunds succeed at once; acknowledge matches WeChat', async () => {
    const { provider } = setup();
    expect(await provider.refund({ refundId: 'rf_1', tradeNo: 'KQSB000011', amountFen: 500, totalFen: 2500, reason: 'demo' })).toEqual({
      status: 'succeeded',
      providerRefundId: 'sandbox_refund_rf_1',
    });
    await expect(provider.refund({ refundId: 'rf_2', tradeNo: 'KQSB000011', amountFen: 2501, totalFen: 2500, reason: 'x' })).rejects.toThrow(/more than/);
    expect(provider.acknowledge(true)).toEqual({ statusCode: 204 });
    expect(provider.acknowledge(false).statusCode).toBe(500);
  });

  it('refuses a short secret', () => {
    expect(() => createSandboxProvider({ secret: 'short', clock: new ManualClock() })).toThrow(/16 characters/);
  });
});

function input(clock: ManualClock, tradeNo = 'KQSB000003') {
  return { tradeNo, orderId: 'ord_1', amountFen: 100, description: 'demo', notifyUrl: 'http://localhost/notify', expiresAt: new Date(clock.now().getTime() + 15 * MINUTE) };
}
