/**
 * Shared harness for the mini-program page tests (consumer and partner pages).
 *
 * - `startMpServer()` boots a real kaquan test app (with WeChat Pay against its fake) listening on a real port,
 *   plus the fake WeChat mini-program server for code2session / getPhoneNumber.
 * - `createWxHarness({ baseUrl, wechat })` installs a fake global `wx`: `request` goes over real HTTP to the
 *   server; everything else (login, storage, toasts, navigation, payment, clipboard, subscribe...) is a recorded stub.
 * - `loadPage(name, query)` renders `miniprogram/pages/<name>/index` with miniprogram-simulate and calls its
 *   onLoad/onShow (pages are built with `Component`, so their lifecycles are methods).
 *
 *
 *   const s = await startMpServer();                                   // beforeAll; s.close() in afterAll
 *   const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
 *   const me = await wxh.signIn();  await s.fund(me.customerId, 1_000);
 *   const page = await loadPage('checkout', { sku }, wxh);  await page.tap('#submit');
 *   expect(wxh.callsOf('redirectTo')).toEqual([{ url: ... }]);        // a second customer: another harness, then .activate()
 *
 * Module loading: miniprogram-simulate runs a page's JS with Node's own `require`, so the page's relative
 * `require('../../utils/api.js')` just works — and shares Node's module cache. The harness therefore reaches the
 * mini-program's modules (config.js, session.js) through `createRequire`, never through `import` (vite would load a
 * second copy), and points `config.baseUrl` at the test server. Test files of one worker run one after the other,
 * so setting it per file is safe.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, URL as NodeURL, URLSearchParams as NodeURLSearchParams } from 'node:url';
import { Blob as NodeBlob, File as NodeFile } from 'node:buffer';
import simulate from 'miniprogram-simulate';
import { afterAll, beforeAll } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { startFakeWechatMp, type FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { startAppWithWeChatPay } from '../payments/wechat-fixture.js';
import { ManualClock } from '../../src/lib/clock.js';

// vitest's jsdom environment replaces these globals with jsdom's (another realm): the kaquan server booted in this
// same process fails `instanceof Uint8Array` (PGlite bytea), reads its PGlite image as a Blob, parses URLs. Pages and
// j-component never use them, so the file gets Node's own back (vitest restores its originals at teardown).
// A v8 round trip makes an object of the main realm, whose constructor is Node's.
const nodeCtor = (sample: object) => Object.getPrototypeOf(v8.deserialize(v8.serialize(sample))).constructor as unknown;
const typedArrays = ['Uint8Array', 'Uint16Array', 'Uint32Array', 'Uint8ClampedArray', 'Int8Array', 'Int16Array', 'Int32Array', 'Float32Array', 'Float64Array'] as const;
Object.assign(globalThis, Object.fromEntries(typedArrays.map((name) => [name, nodeCtor(new (globalThis[name] as unknown as new (n: number) => object)(1))])), {
  ArrayBuffer: Buffer.alloc(1).buffer.constructor,
  Blob: NodeBlob,
  File: NodeFile,
  URL: NodeURL,
  URLSearchParams: NodeURLSearchParams,
});

export const MP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../miniprogram');
export const mpRequire = createRequire(join(MP_ROOT, 'app.js'));
export const apiMethods = ['me', 'setPhone', 'logout', 'catalog', 'sku', 'createOrder', 'orders', 'order', 'revealOrder', 'wallet', 'revealCode', 'redemptionQrToken', 'giftCode', 'claimGift', 'cancelGift', 'coupons', 'claimableCoupons', 'claimCoupon', 'openTicket', 'tickets', 'ticket', 'subscriptionTemplates', 'recordSubscriptions'] as const;
/** utils/api.js's functions (one per consumer /mp/v1 route); answers are the server's JSON, cast by the caller. */
export type MpApi = Record<(typeof apiMethods)[number], (...args: unknown[]) => Promise<unknown>>;
/** The mini-program's own API instance (utils/api.js), talking through the installed fake wx as the signed-in customer. */
export const mpApi = () => (mpRequire('./utils/api.js') as { api: MpApi }).api;
export const uniq = () => randomBytes(6).toString('hex');

const APPID = 'wx0123456789abcdef';
const SECRET = '0123456789abcdef0123456789abcdef';

export interface MpServer {
  t: TestApp;
  clock: ManualClock;
  /** The fake WeChat mini-program server (code2session, getPhoneNumber, subscribe messages). */
  wechat: FakeWechatMp;
  /** The fake WeChat Pay server and the app's notify URL (to complete a JSAPI payment). */
  pay: Awaited<ReturnType<typeof startAppWithWeChatPay>>;
  /** Where the mini-program talks to: the app listening on a real port. */
  baseUrl: string;
  staffToken(role: 'operations' | 'finance' | 'support' | 'owner'): Promise<string>;
  /** A product with one SKU on sale, stocked with `count` codes; answers the SKU id and the secrets. */
  stockSku(opts?: { name?: string; priceFen?: number; count?: number; expiresAt?: Date; usageInstructions?: string; redeemUrl?: string }): Promise<{ skuId: string; secrets: string[] }>;
  /** Credits a customer's balance (as finance). */
  fund(customerId: string, amountFen: number): Promise<void>;
  /** A claimable fixed-amount coupon template; answers its id. */
  couponTemplate(opts?: { amountOffFen?: number; minAmountFen?: number }): Promise<string>;
  close(): Promise<void>;
}

/**
 * One app for the whole test file: started before its tests, closed after them. `use` receives it, so a file
 * keeps its own `let s: MpServer` and the tests read `s.t`, `s.clock` as before.
 */
export function startMpServerForFile(use: (s: MpServer) => void, opts: { env?: Record<string, string> } = {}): void {
  let server: MpServer | undefined;
  beforeAll(async () => {
    server = await startMpServer(opts);
    use(server);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });
}

export async function startMpServer(opts: { env?: Record<string, string> } = {}): Promise<MpServer> {
  const clock = new ManualClock(new Date());
  const wechat = await startFakeWechatMp({ appId: APPID, secret: SECRET });
  const t = await bootTestApp({
    clock,
    env: { WECHAT_MP_APPID: APPID, WECHAT_MP_SECRET: SECRET, WECHAT_MP_API_BASE: wechat.url, RISK_SEED_RULES: 'false', SESSION_TTL_MINUTES: '43200', ...opts.env },
  });
  const pay = await startAppWithWeChatPay(t, clock);
  const baseUrl = pay.notifyUrl.replace(/\/payments\/notify\/wechat$/, '');
  const tokens = new Map<string, string>();
  const staffToken = async (role: 'operations' | 'finance' | 'support' | 'owner') => {
    if (!tokens.has(role)) tokens.set(role, (await t.loginAs(role)).token);
    return tokens.get(role)!;
  };
  return {
    t,
    clock,
    wechat,
    pay,
    baseUrl,
    staffToken,
    async stockSku(o = {}) {
      const skuId =
        o.redeemUrl || o.usageInstructions
          ? (
              await t.services.catalog.createProduct({
                name: o.name ?? `Card ${uniq()}`,
                brand: 'Brand',
                category: 'gift',
                kind: 'code',
                skus: [{ name: '¥100', faceValueFen: 10_000, costFen: 8_800, retailPriceFen: o.priceFen ?? 9_600, usageInstructions: o.usageInstructions, redeemUrl: o.redeemUrl, lowStockThreshold: 0 }],
              })
            ).skus[0]!.id
          : await createCodeSku(t, { name: o.name, retailPriceFen: o.priceFen ?? 9_600 });
      const secrets = (o.count ?? 1) > 0 ? await stockCodes(t, skuId, o.count ?? 1, { expiresAt: o.expiresAt }) : [];
      return { skuId, secrets };
    },
    async fund(customerId, amountFen) {
      const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(await staffToken('finance')), payload: { buyer_type: 'customer', buyer_id: customerId, amount_fen: amountFen, reference: `topup-${uniq()}` } });
      if (res.statusCode !== 200) throw new Error(`fund failed: ${res.body}`);
    },
    async couponTemplate(o = {}) {
      const res = await t.inject({
        method: 'POST',
        url: '/admin/marketing/coupon-templates',
        headers: bearer(await staffToken('operations')),
        payload: { name: `coupon ${uniq()}`, kind: 'fixed', amount_off_fen: o.amountOffFen ?? 1_000, valid_days: 30, claimable: true, ...(o.minAmountFen ? { min_amount_fen: o.minAmountFen } : {}) },
      });
      if (res.statusCode !== 201) throw new Error(`coupon template failed: ${res.body}`);
      return res.json().id as string;
    },
    async close() {
      await pay.close();
      await t.close();
      await wechat.close();
    },
  };
}

export interface WxCall {
  api: string;
  args: Record<string, unknown>;
}
type Callbacks = { success?: (r: unknown) => void; fail?: (e: unknown) => void; complete?: (r: unknown) => void };

export interface WxHarness {
  /** The fake `wx` (also installed as globalThis.wx). */
  wx: Record<string, unknown>;
  /** Every wx API call except request and storage, in order. */
  calls: WxCall[];
  callsOf(api: string): Record<string, unknown>[];
  /** Every HTTP request a page made: method, path (with query) and status. */
  requests: { method: string; path: string; status: number }[];
  storage: Map<string, unknown>;
  clipboard: string | null;
  /** Who the next wx.login codes log in as; clears the stored session (a fresh phone, in effect). */
  actAs(openid?: string): string;
  /** Logs in through the mini-program's own session module; answers the customer id. */
  signIn(openid?: string): Promise<{ customerId: string; openid: string }>;
  /** Outcomes of the next calls: requestPayment 'ok' | 'cancel' | 'fail'; subscribe answers per template id. */
  respond: { requestPayment: 'ok' | 'cancel' | 'fail'; subscribe: 'accept' | 'reject'; modalConfirm: boolean };
  /** Resolves when no wx.request is in flight (and the page had a few ticks to render). */
  idle(): Promise<void>;
  /**
   * Makes this harness the installed `wx` again (and its server the config's baseUrl). One harness is installed at a
   * time — the last created or activated — so a test playing two customers switches between them with this.
   */
  activate(): void;
}

/** Installs a fresh fake `wx` for one test; the mini-program talks to `baseUrl`. */
export function createWxHarness(opts: { baseUrl: string; wechat: FakeWechatMp }): WxHarness {
  const calls: WxCall[] = [];
  const requests: WxHarness['requests'] = [];
  const storage = new Map<string, unknown>();
  let inFlight = 0;
  let openid = `o_${uniq()}`;
  const respond: WxHarness['respond'] = { requestPayment: 'ok', subscribe: 'accept', modalConfirm: true };
  const h = { clipboard: null as string | null };

  /** Calls success/fail/complete like wx does, and also answers a promise when no callback is given. */
  const settle = (o: Callbacks | undefined, ok: boolean, result: unknown): Promise<unknown> | undefined => {
    const cb = o ?? {};
    queueMicrotask(() => {
      if (ok) cb.success?.(result);
      else cb.fail?.(result);
      cb.complete?.(result);
    });
    if (cb.success || cb.fail || cb.complete) return undefined;
    return ok ? Promise.resolve(result) : Promise.reject(result);
  };
  const recorded = (api: string, result: (args: Record<string, unknown>) => [boolean, unknown] = () => [true, { errMsg: `${api}:ok` }]) =>
    (args: Record<string, unknown> & Callbacks = {}) => {
      const { success, fail, complete, ...rest } = args;
      calls.push({ api, args: rest });
      const [ok, res] = result(rest);
      return settle({ success, fail, complete }, ok, res);
    };

  const wx: Record<string, unknown> = {
    request(o: { url: string; method?: string; header?: Record<string, string>; data?: unknown } & Callbacks) {
      inFlight += 1;
      const method = (o.method ?? 'GET').toUpperCase();
      const url = new URL(o.url);
      const init: RequestInit = { method, headers: o.header };
      if (o.data !== undefined && method !== 'GET') init.body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      fetch(o.url, init)
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          try {
            data = text ? JSON.parse(text) : '';
          } catch {
            data = text;
          }
          requests.push({ method, path: url.pathname + url.search, status: res.status });
          o.success?.({ statusCode: res.status, data, header: Object.fromEntries(res.headers) });
          o.complete?.({});
        })
        .catch((e: Error) => {
          requests.push({ method, path: url.pathname + url.search, status: 0 });
          o.fail?.({ errMsg: `request:fail ${e.message}` });
          o.complete?.({});
        })
        .finally(() => {
          inFlight -= 1;
        });
      return { abort() {} };
    },
    login: (o: Callbacks = {}) => {
      const code = `code-${uniq()}`;
      opts.wechat.loginCode(code, { openid });
      calls.push({ api: 'login', args: {} });
      return settle(o, true, { code, errMsg: 'login:ok' });
    },
    getStorageSync: (k: string) => (storage.has(k) ? structuredClone(storage.get(k)) : ''),
    setStorageSync: (k: string, v: unknown) => void storage.set(k, structuredClone(v)),
    removeStorageSync: (k: string) => void storage.delete(k),
    clearStorageSync: () => storage.clear(),
    showToast: recorded('showToast'),
    showModal: recorded('showModal', () => [true, { confirm: respond.modalConfirm, cancel: !respond.modalConfirm, errMsg: 'showModal:ok' }]),
    showLoading: recorded('showLoading'),
    hideLoading: recorded('hideLoading'),
    navigateTo: recorded('navigateTo'),
    redirectTo: recorded('redirectTo'),
    switchTab: recorded('switchTab'),
    reLaunch: recorded('reLaunch'),
    navigateBack: recorded('navigateBack'),
    setNavigationBarTitle: recorded('setNavigationBarTitle'),
    stopPullDownRefresh: recorded('stopPullDownRefresh'),
    showShareMenu: recorded('showShareMenu'),
    previewImage: recorded('previewImage'),
    scanCode: recorded('scanCode', () => [false, { errMsg: 'scanCode:fail cancel' }]),
    setClipboardData: recorded('setClipboardData', (args) => {
      h.clipboard = String(args.data);
      return [true, { errMsg: 'setClipboardData:ok' }];
    }),
    getClipboardData: recorded('getClipboardData', () => [true, { data: h.clipboard ?? '', errMsg: 'getClipboardData:ok' }]),
    requestPayment: recorded('requestPayment', () =>
      respond.requestPayment === 'ok' ? [true, { errMsg: 'requestPayment:ok' }] : [false, { errMsg: respond.requestPayment === 'cancel' ? 'requestPayment:fail cancel' : 'requestPayment:fail system error' }],
    ),
    requestSubscribeMessage: recorded('requestSubscribeMessage', (args) => {
      const ids = (args.tmplIds as string[]) ?? [];
      return [true, Object.assign({ errMsg: 'requestSubscribeMessage:ok' }, Object.fromEntries(ids.map((id) => [id, respond.subscribe])))];
    }),
    getSystemInfoSync: () => ({ platform: 'devtools', windowWidth: 375, windowHeight: 667, pixelRatio: 2 }),
  };
  // An API a page calls that the harness does not stub fails loudly instead of silently doing nothing.
  const proxy = new Proxy(wx, {
    get(target, prop: string) {
      if (prop in target) return target[prop];
      if (typeof prop === 'symbol' || prop === 'then' || prop === 'toJSON') return undefined;
      throw new Error(`wx.${prop} is not stubbed by the test harness`);
    },
  });
  const install = () => {
    mpRequire('./config.js').baseUrl = opts.baseUrl;
    (globalThis as Record<string, unknown>).wx = proxy;
    (globalThis as Record<string, unknown>).getApp = () => ({ globalData: {} });
    (globalThis as Record<string, unknown>).getCurrentPages = () => [];
  };
  install();

  const harness: WxHarness = {
    wx: proxy,
    calls,
    callsOf: (api) => calls.filter((c) => c.api === api).map((c) => c.args),
    requests,
    storage,
    get clipboard() {
      return h.clipboard;
    },
    actAs(who) {
      openid = who ?? `o_${uniq()}`;
      storage.clear();
      return openid;
    },
    async signIn(who) {
      const id = harness.actAs(who);
      const session = mpRequire('./utils/session.js') as { login(): Promise<{ customerId: string }> };
      const { customerId } = await session.login();
      return { customerId, openid: id };
    },
    respond,
    activate: install,
    async idle() {
      // Two quiet checks in a row: a response handler may start the next request.
      for (let quiet = 0; quiet < 2; ) {
        await simulate.sleep(5);
        quiet = inFlight === 0 ? quiet + 1 : 0;
      }
    },
  };
  return harness;
}

/** A page built with Component: its lifecycles and handlers are methods (call only those the page defines). */
export interface PageInstance {
  [member: string]: unknown;
  data: Record<string, unknown>;
  onLoad(query?: Record<string, string>): unknown;
  onShow(): unknown;
  onHide(): unknown;
  onUnload(): unknown;
  onShareAppMessage(options?: Record<string, unknown>): unknown;
  onReachBottom(): unknown;
  onPullDownRefresh(): unknown;
}

export interface PageHandle {
  comp: ReturnType<typeof simulate.render>;
  /** The page's methods (onLoad, handlers, onShareAppMessage...). */
  instance: PageInstance;
  readonly data: Record<string, any>;
  /** Dispatches a tap on the first element matching the selector (fails if absent). */
  tap(selector: string): Promise<void>;
  /** Dispatches an input event with detail.value on the element. */
  input(selector: string, value: string): Promise<void>;
  /** Dispatches any event with a detail (e.g. getphonenumber on a button). */
  fire(selector: string, event: string, detail: Record<string, unknown>): Promise<void>;
  /** The rendered text of the element (or the whole page). */
  text(selector?: string): string;
  exists(selector: string): boolean;
  all(selector: string): { dom: Element }[];
}

/**
 * Loads `miniprogram/pages/<name>/index`, attaches it and runs onLoad(query) then onShow(); resolves once the
 * page's first requests are answered. Call `wxh.idle()` after every further interaction that talks to the server.
 */
export async function loadPage(name: string, query: Record<string, string> = {}, wxh?: WxHarness): Promise<PageHandle> {
  // rootPath is the mini-program root: the official WXML compiler (wcc) compiles the whole tree once, as the
  // developer tools do. Per-page roots would make every page "index.wxml" and its compiled ops collide.
  const id = simulate.load(join(MP_ROOT, 'pages', name, 'index'), { rootPath: MP_ROOT });
  const comp = simulate.render(id);
  comp.attach(document.createElement('parent-wrapper'));
  const instance = comp.instance as unknown as PageInstance;
  await instance.onLoad?.(query);
  await instance.onShow?.();
  const settle = async () => (wxh ? wxh.idle() : simulate.sleep(20));
  await settle();
  const find = (selector: string) => {
    const el = comp.querySelector(selector);
    if (!el) throw new Error(`no ${selector} on page ${name}`);
    return el;
  };
  return {
    comp,
    instance,
    get data() {
      return comp.data as Record<string, any>;
    },
    async tap(selector) {
      find(selector).dispatchEvent('tap');
      await settle();
    },
    async input(selector, value) {
      find(selector).dispatchEvent('input', { detail: { value } });
      await settle();
    },
    async fire(selector, event, detail) {
      find(selector).dispatchEvent(event, { detail });
      await settle();
    },
    text(selector) {
      const dom = selector ? find(selector).dom : comp.dom;
      return (dom?.textContent ?? '').replace(/\s+/g, ' ').trim();
    },
    exists: (selector) => Boolean(comp.querySelector(selector)),
    all: (selector) => comp.querySelectorAll(selector) as unknown as { dom: Element }[],
  };
}

/** Parses a navigateTo url ('/pages/product/index?sku=...') into the page name and its query. */
export function route(url: string): { name: string; query: Record<string, string> } {
  const [path, qs] = url.split('?');
  const m = /^\/?pages\/([^/]+)\/index$/.exec(path ?? '');
  if (!m) throw new Error(`not a page url: ${url}`);
  return { name: m[1]!, query: Object.fromEntries(new URLSearchParams(qs ?? '')) };
}
