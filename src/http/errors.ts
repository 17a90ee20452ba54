import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorStatus, type ErrorCode } from '../lib/errors.js';
import { fieldIssues } from './validation.js';
import { isDependencyUnavailable } from '../lib/unavailable.js';

/** Maps every failure to {"error":{"code","message","details"}}; only a real bug becomes a 500. */
export function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, 'request failed');
      return reply.code(err.status).headers(err.headers).send({ error: { code: err.code, message: err.message, details: err.details } });
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const part = fe.validationContext ?? 'body';
      const details = fieldIssues(fe.validation as never, part);
      const first = details[0];
      return reply.code(400).send({
        error: { code: 'VALIDATION_FAILED', message: first ? `${first.field}: ${first.message}` : 'request is invalid', details },
      });
    }
    const mapped = frameworkErrors[fe.code ?? ''];
    if (mapped) {
      return reply.code(errorStatus[mapped.code]).send({ error: { code: mapped.code, message: mapped.message ?? fe.message, details: null } });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ error: { code: 'BAD_REQUEST', message: fe.message, details: null } });
    }
    if (isDependencyUnavailable(err)) {
      // An outage (database restarting, Redis down) is not a bug: a clear refusal the client retries with its key.
      request.log.warn({ err }, 'a backing service is unavailable; request refused');
      return reply.code(503).header('retry-after', '5').send({ error: { code: 'SERVICE_UNAVAILABLE', message: 'a backing service is briefly unavailable; retry shortly (with the same Idempotency-Key)', details: null } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error; the request id is in the logs', details: { request_id: request.id } } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?')[0]}`, details: null } }),
  );
}

/**
 * Router-level failures (a malformed URL, an over-long path parameter) never
 * reach the error handler; without this Fastify answers them in its own shape
 * and echoes the whole path back. Passed as Fastify's `frameworkErrors` option.
 */
export function frameworkErrorReply(err: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'malformed URL';
  return reply.code(400).send({ error: { code: 'BAD_REQUEST', message, details: null } });
}

const frameworkErrors: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_JSON', message: 'body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON', message: 'body is empty but Content-Type is application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'body is larger than the limit' },
  FST_REQ_FILE_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'file is larger than the limit; nothing was imported' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send multipart/form-data' },
  FST_FILES_LIMIT: { code: 'BAD_REQUEST', message: 'send one file' },
  FST_PARTS_LIMIT: { code: 'BAD_REQUEST', message: 'too many parts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported Content-Type; send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BAD_REQUEST', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_BAD_URL: { code: 'BAD_REQUEST', message: 'malformed URL' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'BAD_REQUEST' },
};
