import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import QRCode from 'qrcode';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock } from '../../src/lib/clock.js';

const clock = new ManualClock('2026-07-10T03:00:00Z');
let t: TestApp;
let owner: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { PUBLIC_URL: 'https://shop.example.com/' } });
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

async function keyFor(ownerType: 'agent' | 'partner', ownerId: string) {
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: ownerType, owner_id: ownerId, name: 'poster' } })).json() as { id: string; secret: string };
  return (url: string) => t.inject({ method: 'GET', url, headers: signedHeaders(key.id, key.secret, 'GET', url, '', clock.now()) });
}

describe('GET /open/v1/agent/poster.svg', () => {
  it("serves the calling agent's poster as image/svg+xml: escaped name, referral code, join link and its QR code", async () => {
    const agent = await t.services.agents.create({ name: 'Lily <b>&</b> 小店', role: 'group_leader' });
    const get = await keyFor('agent', agent.id);
    const res = await get('/open/v1/agent/poster.svg');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
    const link = `https://shop.example.com/join/${agent.referral_code}`;
    expect(res.body).toContain('>Lily &lt;b&gt;&amp;&lt;/b&gt; 小店</text>');
    expect(res.body).not.toContain('<b>');
    expect(res.body).toContain(`>${agent.referral_code}</text>`);
    expect(res.body).toContain(`>${link}</text>`);
    // The QR drawn is the link's: its size and quiet zone match QRCode.create of the same link.
    const size = QRCode.create(link, { errorCorrectionLevel: 'M' }).modules.size;
    expect(res.body).toMatch(new RegExp(`<svg id="qr"[^>]*viewBox="0 0 ${size} ${size}"`));
    // The referral endpoint gives the same link.
    expect((await get('/open/v1/agent/referral')).json().link).toBe(link);
  });

  it('is for agents only, and signed', async () => {
    const partner = await keyFor('partner', 'p-poster');
    expect((await partner('/open/v1/agent/poster.svg')).statusCode).toBe(403);
    expect((await t.inject({ method: 'GET', url: '/open/v1/agent/poster.svg' })).statusCode).toBe(401);
  });
});
