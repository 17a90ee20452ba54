import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import type { ImportProgress, ImportReport } from './service.js';

export const NDJSON = 'application/x-ndjson';

/**
 * Answers an import either as one JSON report (201 completed, 422 refused) or,
 * when the caller accepts application/x-ndjson, as a stream of progress lines
 * that ends with the report, so a browser can draw a progress bar while a big
 * file is read. The stream only starts with the first progress event (after
 * the first chunk of rows is written): a request refused up front (unknown
 * SKU, bad expiry) still gets its ordinary error status and body, and an
 * import with no row to write is answered as plain JSON.
 *
 * Lines: {"type":"progress","import_id","rows","accepted","rejected"}, then
 * {"type":"report","status":201|422,"report":{...}} or
 * {"type":"error","status":4xx|5xx,"error":{"code","message","details"}}.
 */
export async function answerImport(
  request: FastifyRequest,
  reply: FastifyReply,
  run: (onProgress?: (p: ImportProgress) => void) => Promise<ImportReport>,
) {
  const statusOf = (r: ImportReport) => (r.status === 'completed' ? 201 : 422);
  if (!String(request.headers.accept ?? '').includes(NDJSON)) {
    const report = await run();
    return reply.code(statusOf(report)).send(report);
  }
  let stream: PassThrough | null = null;
  // A caller that goes away mid-import stops hearing about it; the import itself runs on and its report stays at GET /admin/vault/imports/:id.
  const line = (value: unknown) => {
    if (stream && !stream.destroyed && !stream.writableEnded) stream.write(`${JSON.stringify(value)}\n`);
  };
  const onProgress = (p: ImportProgress) => {
    if (!stream) {
      stream = new PassThrough();
      stream.on('error', () => {});
      void reply.code(200).header('content-type', NDJSON).header('cache-control', 'no-store').header('x-accel-buffering', 'no').send(stream);
    }
    line({ type: 'progress', ...p });
  };
  try {
    const report = await run(onProgress);
    if (!stream) return reply.code(statusOf(report)).send(report);
    line({ type: 'report', status: statusOf(report), report });
  } catch (err) {
    if (!stream) throw err;
    if (err instanceof AppError) line({ type: 'error', status: err.status, error: { code: err.code, message: err.message, details: err.details } });
    else {
      request.log.error({ err }, 'import failed while streaming progress');
      line({ type: 'error', status: 500, error: { code: 'INTERNAL', message: 'internal error; the request id is in the logs', details: { request_id: request.id } } });
    }
  }
  (stream as PassThrough | null)?.end();
  return reply;
}
