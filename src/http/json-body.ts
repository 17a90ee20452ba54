import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from '../lib/errors.js';
import { containsNul, NUL_IN_BODY } from './nul-guard.js';

/** Parses JSON with prototype-poisoning protection and keeps the raw text for signature checks. */
export function installJsonBodyParser(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([a-z.+-]*\+)?json(\s*;.*)?$/i, { parseAs: 'string' }, (request, body: string | Buffer, done) => {
    const text = body.toString();
    request.rawBody = text;
    if (text.length === 0) return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      return done(new AppError('INVALID_JSON', 'body is not valid JSON'), undefined);
    }
    // A NUL can only arrive escaped (\u0000); look deeper only then.
    if (/\\u0000/i.test(text) && containsNul(parsed)) return done(new AppError('VALIDATION_FAILED', NUL_IN_BODY, [{ field: 'body', message: 'must not contain \\u0000' }]), undefined);
    done(null, parsed);
  });
}
