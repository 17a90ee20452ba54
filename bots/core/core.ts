import type { Platform } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import { AppError } from '../../src/lib/errors.js';
import type { ChatCore, HandleResult, Inbound, Reply } from './types.js';
import { textFor, type CoreOptions, type Ctx, type Feature } from './context.js';
import { compose, errorCode } from './engine.js';
import { createSessionStore, overlay, type SessionData } from './session.js';
import { localeFromHint } from './texts.js';
import { startFeature } from './features/start.js';
import { coreFeatures } from './features/index.js';

export type { CoreOptions } from './context.js';

/** Saving the session lost a race this many times in a row: the message's session change is dropped (its replies stand). */
const MAX_ATTEMPTS = 5;

/**
 * The conversation core every adapter calls. One inbound message: dedupe by
 * (channel, message id), resolve the chat user to a customer, load the
 * session, dispatch to a feature, save the session with its version. When
 * another instance saved the same user's session in between, this message's
 * session changes are laid over the fresh state (see overlay); the handler
 * never runs twice for one message.
 */
export function createChatCore(p: Platform, s: Services, opts: CoreOptions = {}): ChatCore {
  const sessions = createSessionStore(p);
  const options: CoreOptions = {
    publicUrl: p.config.publicUrl,
    adminChat: p.config.adminAlertChat ? { channel: 'telegram', chatId: p.config.adminAlertChat.chatId } : undefined,
    ...opts,
  };
  const features: Feature[] = [startFeature, ...coreFeatures];
  const { dispatch } = compose(features, async (ctx) => [{ text: ctx.t('unknown') }]);

  async function handle(inbound: Inbound): Promise<HandleResult> {
    const { channel } = inbound.place;
    if (inbound.messageId && !(await sessions.claimInbound(channel, inbound.messageId))) return { replies: [] };
    try {
      return await handleOnce(inbound);
    } catch (err) {
      // Not ours to answer (the database is down...): let the platform deliver it again.
      if (inbound.messageId) await sessions.releaseInbound(channel, inbound.messageId).catch(() => undefined);
      throw err;
    }
  }

  async function handleOnce(inbound: Inbound): Promise<HandleResult> {
    const { user } = inbound;
    const { customerId, created } = await s.customers.resolve({
      identity: { provider: user.provider, externalId: user.externalId },
      displayName: user.displayName,
      locale: localeFromHint(user.languageHint),
    });
    let loaded = await sessions.load(user);
    const before: SessionData = structuredClone(loaded.data);
    const session: SessionData = structuredClone(loaded.data);
    const ctx: Ctx = {
      p,
      s,
      opts: options,
      inbound,
      user,
      place: inbound.place,
      session,
      locale: session.locale ?? localeFromHint(user.languageHint),
      customerId,
      created,
      t: (key, params) => textFor(ctx.locale)(key, params),
      elsewhere: [],
    };
    let replies: Reply[];
    try {
      replies = await dispatch(ctx);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      p.logger.info({ code: err.code, channel: inbound.place.channel }, 'bot: request refused');
      replies = [{ text: ctx.t('error', { code: errorCode(err) }) }];
    }
    const result: HandleResult = ctx.elsewhere.length ? { replies, elsewhere: ctx.elsewhere } : { replies };
    // Another message of the same user was saved meanwhile (another instance, a double tap): the handler is not run
    // again (its writes are done); what this message changed is laid over the fresh session, key by key. A flow that
    // loses its key this way only makes its own buttons stale (they carry the flow id).
    let next = session;
    for (let attempt = 1; ; attempt++) {
      if (await sessions.save(loaded, next)) return result;
      if (attempt >= MAX_ATTEMPTS) {
        p.logger.warn({ channel: inbound.place.channel }, 'bot: session kept changing; this message\'s session change is dropped');
        return result;
      }
      loaded = await sessions.load(user);
      next = overlay(loaded.data, before, session);
    }
  }

  return { handle };
}
