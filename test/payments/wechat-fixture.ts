import { generateKeyPairSync } from 'node:crypto';
import { ManualClock, type Clock } from '../../src/lib/clock.js';
import { buildApp } from '../../src/app.js';
import { createPaymentService } from '../../src/modules/payments/service.js';
import type { TestApp } from '../helpers/boot.js';
import type { CreatePaymentInput, PaymentProvider } from '../../src/modules/payments/provider.js';
import { createWeChatPayProvider, type WeChatPayOptions } from '../../src/modules/payments/wechat-pay.js';
import { startFakeWeChatPay, type FakeWeChatPay } from '../fakes/wechat-pay/server.js';

export const APP_ID = 'wx8888888888888888';
export const MCH_ID = '1900000001';
export const MERCHANT_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
export const API_V3_KEY = 'kaquanTestApiV3Key00000000000032';

export interface WeChatHarness {
  clock: ManualClock;
  fake: FakeWeChatPay;
  merchantPublicKeyPem: string;
  merchantPrivateKeyPem: string;
  options: WeChatPayOptions;
  provider: PaymentProvider;
  /** Another provider on the same fake with some options changed. */
  providerWith(patch: Partial<WeChatPayOptions>): PaymentProvider;
  close(): Promise<void>;
}

export function rsaKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** A merchant key pair, a fake WeChat Pay trusting it, and a provider pointed at the fake, all on one ManualClock. */
export async function startWeChatHarness(): Promise<WeChatHarness> {
  const clock = new ManualClock('2026-03-01T04:00:00Z');
  const merchant = rsaKeyPair();
  const fake = await startFakeWeChatPay({
    appId: APP_ID,
    mchId: MCH_ID,
    apiV3Key: API_V3_KEY,
    merchantPublicKeyPem: merchant.publicKeyPem,
    merchantSerialNo: MERCHANT_SERIAL,
    clock,
  });
  const options: WeChatPayOptions = {
    baseUrl: fake.url,
    appId: APP_ID,
    mchId: MCH_ID,
    merchantSerialNo: MERCHANT_SERIAL,
    merchantPrivateKeyPem: merchant.privateKeyPem,
    apiV3Key: API_V3_KEY,
    platformPublicKeys: { [fake.platformSerial]: fake.platformPublicKeyPem },
    timeoutMs: 2000,
  };
  return {
    clock,
    fake,
    merchantPublicKeyPem: merchant.publicKeyPem,
    merchantPrivateKeyPem: merchant.privateKeyPem,
    options,
    provider: createWeChatPayProvider(options, clock),
    providerWith: (patch) => createWeChatPayProvider({ ...options, ...patch }, clock),
    close: () => fake.close(),
  };
}

let counter = 0;
/** A fresh trade number per call, so tests sharing one fake never collide. */
export function nextTradeNo(): string {
  counter += 1;
  return `KQ2026030100${String(counter).padStart(6, '0')}`;
}

export function paymentInput(h: WeChatHarness, patch: Partial<CreatePaymentInput> = {}): CreatePaymentInput {
  return {
    tradeNo: nextTradeNo(),
    orderId: 'ord_01TEST',
    amountFen: 1999,
    description: '腾讯视频VIP月卡',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    notifyUrl: 'https://kaquan.example.com/payments/wechat/notify',
    expiresAt: new Date(h.clock.now().getTime() + 15 * 60_000),
    ...patch,
  };
}

/**
 * The real app on a test database with WeChat Pay as its payment provider,
 * pointed at a local fake WeChat Pay server, listening on a real port so the
 * fake can post its notifications to it.
 */
export async function startAppWithWeChatPay(t: TestApp, clock: Clock) {
  const merchant = rsaKeyPair();
  const fake = await startFakeWeChatPay({ appId: APP_ID, mchId: MCH_ID, apiV3Key: API_V3_KEY, merchantPublicKeyPem: merchant.publicKeyPem, merchantSerialNo: MERCHANT_SERIAL, clock });
  const wechat = createWeChatPayProvider(
    { baseUrl: fake.url, appId: APP_ID, mchId: MCH_ID, merchantSerialNo: MERCHANT_SERIAL, merchantPrivateKeyPem: merchant.privateKeyPem, apiV3Key: API_V3_KEY, platformPublicKeys: { [fake.platformSerial]: fake.platformPublicKeyPem }, timeoutMs: 3000 },
    clock,
  );
  const urls = { notifyBaseUrl: '' };
  const payments = createPaymentService(t.platform, { orders: t.services.orders, ledger: t.services.ledger }, { wechat }, urls);
  const app = await buildApp(t.platform, { ...t.services, payments });
  urls.notifyBaseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    fake,
    payments,
    app,
    notifyUrl: `${urls.notifyBaseUrl}/payments/notify/wechat`,
    async close() {
      await app.close();
      await fake.close();
    },
  };
}
