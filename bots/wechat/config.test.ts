import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'kq-wechat-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = { DATA_DIR: dir, SESSION_SECRET: 's'.repeat(32), VAULT_MASTER_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`, HMAC_KEY: Buffer.alloc(32, 2).toString('base64') };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env }).wechatBots;
const refused = (env: Record<string, string>, variable: string) => {
  expect(() => load(env)).toThrow(ConfigError);
  expect(() => load(env)).toThrow(variable);
};
const AES = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

describe('WeChat bot settings', () => {
  it('are off unless configured', () => {
    expect(load({})).toEqual({ wechaty: null, officialAccount: null, wecom: null, apiBase: 'https://api.weixin.qq.com' });
  });

  it('take a puppet, the Official Account in plain or safe mode, and WeCom', () => {
    const c = load({ WECHATY_PUPPET: 'wechaty-puppet-service', WECHATY_PUPPET_TOKEN: 'puppet_token', WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_AES_KEY: AES, WECHAT_OA_APPID: 'wx0123456789abcdef', WECOM_TOKEN: 'wc', WECOM_AES_KEY: AES, WECOM_CORP_ID: 'ww1', WECHAT_API_BASE: 'http://127.0.0.1:9/' });
    expect(c.wechaty).toEqual({ puppet: 'wechaty-puppet-service', puppetToken: 'puppet_token' });
    expect(c.officialAccount).toEqual({ token: 'tok123', aesKey: AES, appId: 'wx0123456789abcdef', appSecret: undefined });
    expect(c.wecom).toEqual({ token: 'wc', aesKey: AES, corpId: 'ww1' });
    expect(load({ WECHAT_OA_TOKEN: 'tok123' }).officialAccount?.aesKey).toBeUndefined();
  });

  it('refuse half or malformed settings, naming the variable and never echoing a secret', () => {
    refused({ WECHAT_OA_AES_KEY: AES, WECHAT_OA_APPID: 'wx0123456789abcdef' }, 'WECHAT_OA_TOKEN');
    refused({ WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_AES_KEY: AES }, 'WECHAT_OA_APPID');
    refused({ WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_AES_KEY: 'short', WECHAT_OA_APPID: 'wx0123456789abcdef' }, 'WECHAT_OA_AES_KEY');
    refused({ WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_APPID: 'wx0123456789abcdef', WECHAT_OA_APPSECRET: 'nothex' }, 'WECHAT_OA_APPSECRET');
    refused({ WECOM_TOKEN: 'wc', WECOM_AES_KEY: AES }, 'WECOM_CORP_ID');
    refused({ WECHATY_PUPPET: 'rm -rf /' }, 'WECHATY_PUPPET');
    expect(() => load({ WECHAT_OA_TOKEN: 'tok123', WECHAT_OA_AES_KEY: 'x'.repeat(43) + 'SECRETX', WECHAT_OA_APPID: 'wx0123456789abcdef' })).not.toThrow('SECRETX');
  });
});
