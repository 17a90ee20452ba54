import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from '../lib/errors.js';

/** Parses JSON with prototype-poisoning protection and keeps the raw text for signature checks. */
export function installJsonBodyParser(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([a-z.+-]*\+)?json(\s*;.*)?$/i, { parseAs: 'string' }, (request, body: string | Buffer, done) => {
    const text = body.toString();
    request.rawBody = text;
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(new AppError('INVALID_JSON', 'body is not valid JSON'), undefined);
    }
  });
}
