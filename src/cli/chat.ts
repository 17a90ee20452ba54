import 'dotenv/config';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { openPlatform, closePlatform } from '../platform.js';
import { createServices } from '../services.js';
import { seedDemo } from '../seed/demo.js';
import { accounts } from '../modules/ledger/accounts.js';
import { createChatCore } from '../../bots/core/core.js';
import type { ChatPlace, ChatUser, HandleResult, Reply, ReplyButton } from '../../bots/core/types.js';
import type { IdentityProvider } from '../modules/customers/service.js';

/**
 * `npm run chat`: the bot conversation in this terminal, on the same core the
 * Telegram and WeChat adapters use, as a chosen chat user
 * (`-- --as telegram:10001`, the demo customer by default; `-- --agent` as the
 * demo group leader). Buttons are numbered: type the number to press one.
 * Codes are printed in clear: this is the user's own terminal. It opens the
 * platform like `npm start` (embedded database by default), so stop a
 * running `npm start` on the same DATA_DIR first (the embedded database is
 * one process's).
 */
const HELP = `usage: npm run chat -- [--as provider:id] [--agent] [--name NAME] [--lang zh-CN|en] [--group]
  --as      the chat user (default telegram:10001, the demo customer)
  --agent   act as the demo group leader (telegram:20001 linked to it)
  --group   talk from a group chat (codes then go to the private chat)
  type a number to press a button, /menu for the menu, /quit to leave`;

const { values } = parseArgs({ options: { as: { type: 'string' }, agent: { type: 'boolean' }, name: { type: 'string' }, lang: { type: 'string' }, group: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

let config;
try {
  config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(78);
  }
  throw e;
}
const platform = await openPlatform(config);
const services = createServices(platform);
if (config.seedDemo) await seedDemo(platform, services);

const [provider, externalId] = (values.as ?? (values.agent ? 'telegram:20001' : 'telegram:10001')).split(':') as [IdentityProvider, string];
const user: ChatUser = { provider: provider as ChatUser['provider'], externalId, displayName: values.name ?? (values.agent ? 'Demo Leader' : 'Demo Buyer'), languageHint: values.lang ?? 'en' };
const place: ChatPlace = values.group ? { channel: 'terminal', chatId: 'terminal-group', kind: 'group' } : { channel: 'terminal', chatId: externalId, kind: 'private' };
const { customerId } = await services.customers.resolve({ identity: { provider: user.provider, externalId }, displayName: user.displayName });

if (values.agent && !(await services.agents.ofCustomer(customerId))) {
  // The demo's group leader; on a real installation agents link themselves with "/link CODE".
  const leader = (await services.agents.list({ limit: 100 })).data.find((a) => a.role === 'group_leader');
  if (leader) await services.agents.linkCustomer(leader.id, customerId);
}
if (config.seedDemo) {
  // The demo buyer starts with something to spend (the demo only: SEED_DEMO is off in production).
  const balance = await services.ledger.balance(accounts.customerBalance(customerId).id);
  if (balance === 0) await services.orders.creditBalance({ type: 'customer', id: customerId }, 20_000, 'chat demo top-up', { id: 'chat-cli' });
}

const core = createChatCore(platform, services);
let buttons: ReplyButton[] = [];
let n = 0;

function print(r: HandleResult) {
  buttons = [];
  const show = (rep: Reply, prefix = '') => {
    console.log(`\n${prefix}${rep.text}`);
    if (rep.secret) console.log(`\n  ${rep.secret.text.split('\n').join('\n  ')}\n`);
    if (rep.url) console.log(`  ${rep.url.label}: ${rep.url.href}`);
    if (rep.invoiceLink) console.log(`  pay: ${rep.invoiceLink}`);
    if (rep.image?.png) {
      const file = join(tmpdir(), `kaquan-chat-${Date.now()}.png`);
      writeFileSync(file, rep.image.png);
      console.log(`  (image: ${file})`);
    } else if (rep.image?.url) console.log(`  (image: ${rep.image.url})`);
    for (const row of rep.buttons ?? []) {
      console.log('  ' + row.map((b) => `${buttons.push(b)}) ${b.label}`).join('   '));
    }
  };
  for (const rep of r.replies) show(rep);
  for (const e of r.elsewhere ?? []) for (const rep of e.replies) show(rep, `[private chat] `);
}

console.log(`kaquan chat as ${user.provider}:${externalId} (${user.displayName}) in a ${place.kind} chat. ${HELP.split('\n').at(-1)!.trim()}`);
print(await core.handle({ user, place, payload: { type: 'text', text: '/start' }, messageId: `cli-${Date.now()}-${++n}` }));
const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '\n> ' });
rl.prompt();
try {
  // Lines are read as an async stream, so piped input (a scripted demo) is not lost between prompts.
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '/quit' || line === '/exit') break;
    if (line) {
      const pressed = /^\d{1,2}$/.test(line) ? buttons[Number(line) - 1] : undefined;
      const payload = pressed ? { type: 'button' as const, data: pressed.data } : { type: 'text' as const, text: line };
      try {
        print(await core.handle({ user, place, payload, messageId: `cli-${Date.now()}-${++n}` }));
      } catch (err) {
        console.error('error:', err instanceof Error ? err.message : err);
      }
    }
    rl.prompt();
  }
} finally {
  rl.close();
  await closePlatform(platform);
}
