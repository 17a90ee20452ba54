import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { Platform } from '../platform.js';
import type { Services } from '../services.js';
import type { Role } from '../modules/auth/permissions.js';
import { randomToken } from '../lib/ids.js';
import { registerDemoSupplier, type DemoSupplier } from './demo-supplier.js';

export interface DemoLogin {
  role: Role;
  email: string;
  password: string;
}

const demoStaff: { role: Role; email: string; name: string }[] = [
  { role: 'owner', email: 'owner@kaquan.local', name: '店主 Owner' },
  { role: 'operations', email: 'ops@kaquan.local', name: '运营 Operations' },
  { role: 'finance', email: 'finance@kaquan.local', name: '财务 Finance' },
  { role: 'risk', email: 'risk@kaquan.local', name: '风控 Risk' },
  { role: 'support', email: 'support@kaquan.local', name: '客服 Support' },
  { role: 'readonly', email: 'viewer@kaquan.local', name: '只读 Viewer' },
];

function randomSecret(len: number): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/**
 * Fills an empty database with a small shop: one staff account per role,
 * products with encrypted codes, a three-level agent tree and a customer.
 * Does nothing when staff accounts exist. Passwords are random and written
 * to DATA_DIR/demo-logins.json (mode 600) unless given.
 */
export async function seedDemo(p: Platform, s: Services, opts: { password?: string; supplier?: DemoSupplier | null } = {}): Promise<{ seeded: boolean; logins: DemoLogin[] }> {
  const loginsFile = join(p.config.dataDir, 'demo-logins.json');
  if ((await s.auth.listStaff({ limit: 1 })).data.length > 0) {
    const logins = existsSync(loginsFile) ? (JSON.parse(readFileSync(loginsFile, 'utf8')) as DemoLogin[]) : [];
    return { seeded: false, logins };
  }

  const logins: DemoLogin[] = [];
  for (const st of demoStaff) {
    const password = opts.password ?? `demo-${randomToken(9)}`;
    await s.auth.createStaff({ email: st.email, name: st.name, role: st.role, password }, null);
    logins.push({ role: st.role, email: st.email, password });
  }
  const owner = (await s.auth.listStaff({ limit: 100 })).data.find((u) => u.role === 'owner')!;
  const actor = { id: owner.id };

  const catalog = [
    {
      product: { name: '腾讯视频 VIP 月卡', brand: '腾讯视频', category: 'video', kind: 'code' as const, description: 'Tencent Video VIP, one month' },
      sku: { name: '月卡 1 个月', faceValueFen: 3000, costFen: 2100, retailPriceFen: 2500, usageInstructions: '打开腾讯视频 App → 我的 → 兑换 VIP，输入卡密。Open Tencent Video → Me → Redeem VIP and enter the code.' },
      codes: 40,
    },
    {
      product: { name: 'Steam 钱包充值卡', brand: 'Steam', category: 'game', kind: 'code' as const, description: 'Steam Wallet card' },
      sku: { name: '¥100', faceValueFen: 10000, costFen: 8800, retailPriceFen: 9600, usageInstructions: 'Steam → Account → Add funds → Redeem a Steam Gift Card or Wallet Code.' },
      codes: 25,
    },
    {
      product: { name: '网易云音乐 黑胶 VIP 年卡', brand: '网易云音乐', category: 'music', kind: 'code' as const, description: 'NetEase Cloud Music Black Vinyl VIP, one year' },
      sku: { name: '年卡 12 个月', faceValueFen: 15800, costFen: 9800, retailPriceFen: 12800, usageInstructions: '网易云音乐 → 账号 → 兑换码，输入卡密。' },
      codes: 8,
    },
    {
      product: { name: '王者荣耀 点券直充', brand: '王者荣耀', category: 'game', kind: 'topup' as const, description: 'Honor of Kings coupons, topped up to the player account' },
      sku: { name: '60 点券', faceValueFen: 600, costFen: 540, retailPriceFen: 580, usageInstructions: '到账后在游戏内邮件查看。Arrives in the in-game mailbox.' },
      codes: 0,
    },
  ];
  const skuIds: Record<string, string> = {};
  for (const item of catalog) {
    const product = await s.catalog.createProduct({ ...item.product, skus: [item.sku] });
    skuIds[item.product.brand] = product.skus[0]!.id;
    if (item.codes > 0) {
      const skuId = product.skus[0]!.id;
      const expiresAt = new Date(p.clock.now().getTime() + 365 * 24 * 3600 * 1000);
      const count = item.codes;
      async function* rows() {
        for (let line = 1; line <= count; line++) yield { line, cardNumber: randomSecret(10), secret: randomSecret(16) };
      }
      await s.vault.importCodes({ skuId, supplier: 'demo-supplier', unitCostFen: item.sku.costFen, expiresAt, mode: 'all_or_nothing', source: 'text' }, rows(), actor);
    }
  }

  if (opts.supplier) await registerDemoSupplier(s, opts.supplier, { steam: skuIds['Steam'], tencentVideo: skuIds['腾讯视频'], hokTopup: skuIds['王者荣耀'] }, actor);

  const distributor = await s.agents.create({ name: '华东总代 East China Distributor', role: 'distributor' });
  const subAgent = await s.agents.create({ name: '杭州代理 Hangzhou Agent', role: 'sub_agent', parentId: distributor.id });
  await s.agents.create({ name: '西湖团长 West Lake Group Leader', role: 'group_leader', parentId: subAgent.id });

  // Marketing (before the demo customer, who then receives the new-user pack at first contact).
  const now = p.clock.now();
  const day = 24 * 3600 * 1000;
  const campaign = await s.campaigns.create({ name: '双十二 Double 12 (demo)', kind: 'general', budgetFen: 500_000, endsAt: new Date(now.getTime() + 30 * day) }, actor);
  await s.coupons.createTemplate({ name: '新人礼 ¥3 off (new-user pack)', kind: 'fixed', amountOffFen: 300, minAmountFen: 1_000, validDays: 14, newUserPack: true, campaignId: campaign.id }, actor);
  await s.coupons.createTemplate({ name: '满 50 减 5 (claimable)', kind: 'threshold', amountOffFen: 500, minAmountFen: 5_000, validDays: 7, claimable: true, totalLimit: 1_000, budgetFen: 100_000, campaignId: campaign.id }, actor);
  await s.flashSales.create({ name: '腾讯视频月卡秒杀 (demo)', skuId: skuIds['腾讯视频']!, priceFen: 1_990, units: 10, perUserLimit: 1, startsAt: now, endsAt: new Date(now.getTime() + day), campaignId: campaign.id }, actor, 'demo-seed-flash-sale');
  await s.recharges.createRule({ name: '充 100 送 10 (demo)', campaignId: campaign.id, tiers: [{ min_fen: 10_000, bonus_fen: 1_000 }, { min_fen: 50_000, bonus_fen: 8_000 }] }, actor);

  const { customerId } = await s.customers.resolve({ identity: { provider: 'telegram', externalId: '10001' }, displayName: 'Demo Buyer', locale: 'en' });
  await s.customers.setPhone(customerId, '13812341234');

  if (!opts.password) writeFileSync(loginsFile, JSON.stringify(logins, null, 2), { mode: 0o600 });
  return { seeded: true, logins };
}
