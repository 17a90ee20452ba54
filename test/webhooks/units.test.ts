import { describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE, SECOND } from '../../src/lib/clock.js';
import { nextAttemptAt, retryDelayMs, RETRY_WINDOW_MS } from '../../src/modules/webhooks/backoff.js';
import { isPrivateAddress, parseWebhookUrl } from '../../src/modules/webhooks/url-guard.js';
import { signWebhook, verifySignature, webhookSignature } from '../../src/modules/webhooks/signature.js';

describe('backoff', () => {
  it('follows 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, then 12 h, within ±20 %', () => {
    const expected = [30 * SECOND, 2 * MINUTE, 10 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 12 * HOUR, 12 * HOUR];
    expected.forEach((base, i) => {
      expect(retryDelayMs(i + 1, () => 0.5)).toBe(base);
      expect(retryDelayMs(i + 1, () => 0)).toBe(Math.round(base * 0.8));
      expect(retryDelayMs(i + 1, () => 0.999999)).toBeLessThanOrEqual(Math.round(base * 1.2));
    });
  });

  it('gives up when the next try would fall after 3 days from the event', () => {
    const created = new Date('2026-03-01T00:00:00Z');
    const at = (ms: number) => new Date(created.getTime() + ms);
    expect(nextAttemptAt(at(2 * DAY), 7, created, () => 0.5)).toEqual(at(2 * DAY + 12 * HOUR));
    expect(nextAttemptAt(at(RETRY_WINDOW_MS - 12 * HOUR), 7, created, () => 0.5)).toEqual(at(RETRY_WINDOW_MS));
    expect(nextAttemptAt(at(RETRY_WINDOW_MS - 11 * HOUR), 7, created, () => 0.5)).toBeNull();
  });
});

describe('private address detection', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['10.0.0.1', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.0.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['2002:7f00:1::1', true],
    ['not-an-ip', true],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['2606:4700::1111', false],
  ])('%s private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('IP-literal URLs are judged without DNS; names are left to resolution', () => {
    expect(() => parseWebhookUrl('http://[::1]:8080/x', { allowPrivateNetworks: false })).toThrow('private');
    expect(() => parseWebhookUrl('http://2130706433/x', { allowPrivateNetworks: false })).toThrow('private'); // 127.0.0.1 as a number
    expect(parseWebhookUrl('https://hooks.partner.example/in?t=1', { allowPrivateNetworks: false }).host).toBe('hooks.partner.example');
    expect(() => parseWebhookUrl('https://a.partner.example/in', { allowPrivateNetworks: false, allowedHosts: ['*.other.example'] })).toThrow('allow-list');
    expect(parseWebhookUrl('https://a.partner.example/in', { allowPrivateNetworks: false, allowedHosts: ['*.partner.example'] }).hostname).toBe('a.partner.example');
  });
});

describe('signatures', () => {
  const secret = 'whsec_unit';
  const now = new Date('2026-03-01T12:00:00Z');
  const body = '{"id":"evt_1","type":"order.paid"}';

  it('signs id.timestamp.body', () => {
    const h = signWebhook(secret, 'evt_1', body, now);
    expect(h['Kaquan-Webhook-Timestamp']).toBe(String(now.getTime() / 1000));
    expect(h['Kaquan-Webhook-Signature']).toBe(`v1=${webhookSignature(secret, 'evt_1', h['Kaquan-Webhook-Timestamp']!, body)}`);
    expect(verifySignature(secret, h, body, now)).toMatchObject({ ok: true, id: 'evt_1' });
    // A fetch Headers object works too (receivers on undici, Deno, workers).
    expect(verifySignature(secret, new Headers(h), body, now).ok).toBe(true);
  });

  it('accepts any one of several v1 signatures, and nothing else', () => {
    const h = signWebhook(secret, 'evt_1', body, now);
    const good = h['Kaquan-Webhook-Signature']!;
    expect(verifySignature(secret, { ...h, 'Kaquan-Webhook-Signature': `v1=${'0'.repeat(64)}, ${good}` }, body, now).ok).toBe(true);
    expect(verifySignature(secret, { ...h, 'Kaquan-Webhook-Signature': good.replace('v1=', 'v0=') }, body, now).ok).toBe(false);
    expect(verifySignature(secret, { ...h, 'Kaquan-Webhook-Timestamp': 'soon' }, body, now)).toMatchObject({ ok: false, reason: 'timestamp is not unix seconds' });
  });
});
