import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Readable } from 'node:stream';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { readCodeRows, type ImportSource, type RawCodeRow } from './import-parser.js';
import { codeStates } from './code-state.js';
import { charsets } from './code-pattern.js';
import { MAX_EXPORT_CODES } from './exports.js';
import { answerImport, NDJSON } from './import-progress.js';
import type { VaultService } from './service.js';
import type {} from '@fastify/multipart';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Rejection = Type.Object({ line: Type.Integer(), reason: Type.String() });
const ImportReport = Type.Object({
  id: Type.String(),
  sku_id: Type.String(),
  batch_id: Type.Union([Type.String(), Type.Null()]),
  source: Type.String(),
  mode: Type.String(),
  status: Type.String(),
  total_rows: Type.Integer(),
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  rejections: Type.Array(Rejection, { description: 'the first 1,000 rejected rows with line number and reason; counts are exact' }),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});
/** 422 is either a refused import's report or a refused request (a top-up SKU): both must serialise. */
const ImportRefusal = Type.Union([ImportReport, Type.Ref('ErrorBody')]);
const MaskedCode = Type.Object({
  id: Type.String(),
  sku_id: Type.String(),
  batch_id: Type.String(),
  secret_masked: Type.String({ description: 'only the last 4 characters' }),
  state: Type.String(),
  allocation_id: Type.Union([Type.String(), Type.Null()]),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  order_id: Type.Union([Type.String(), Type.Null()]),
  sale_count: Type.Integer(),
  created_at: Type.String(),
});
const Batch = Type.Object({
  id: Type.String(),
  sku_id: Type.String(),
  origin: Type.String(),
  supplier: Type.String(),
  unit_cost_fen: Type.Integer(),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  region: Type.String(),
  imported_by: Type.String(),
  code_count: Type.Integer(),
  master_key_id: Type.String(),
  created_at: Type.String(),
});
const ExportView = Type.Object({
  id: Type.String(),
  sku_id: Type.String(),
  batch_id: Type.Union([Type.String(), Type.Null()]),
  state: Type.String(),
  max_codes: Type.Integer(),
  reason: Type.String(),
  status: Type.String(),
  requested_by: Type.String(),
  approved_by: Type.Union([Type.String(), Type.Null()]),
  rejected_reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  decided_at: Type.Union([Type.String(), Type.Null()]),
  downloaded_at: Type.Union([Type.String(), Type.Null()]),
  exported_count: Type.Union([Type.Integer(), Type.Null()]),
});
const Mode = Type.Union([Type.Literal('all_or_nothing'), Type.Literal('accept_valid')], { default: 'all_or_nothing' });
const ImportMetaFields = {
  sku_id: Id('sku'),
  supplier: Type.String({ minLength: 1, maxLength: 64 }),
  unit_cost_fen: Type.Integer({ minimum: 0, maximum: 10_000_000_00 }),
  expires_at: Type.Optional(Type.String({ format: 'date-time' })),
  region: Type.Optional(Type.String({ pattern: '^[A-Z]{2}(-[A-Z0-9]{1,3})?$' })),
  mode: Mode,
};
const tags = ['admin: vault'];
const ndjsonNote = `With \`Accept: ${NDJSON}\`, an import answers 200 once its first chunk of rows is written, with one JSON line per written chunk ({"type":"progress","import_id","rows","accepted","rejected"}) and a last line {"type":"report","status":201|422,"report"} or {"type":"error","status","error"}; a request refused up front, or an import with no row to write, answers as usual.`;

function sourceOf(filename: string, mimetype: string): ImportSource {
  if (/\.xlsx$/i.test(filename) || mimetype.includes('spreadsheetml')) return 'xlsx';
  if (/\.csv$/i.test(filename) || mimetype.includes('csv')) return 'csv';
  if (/\.txt$/i.test(filename) || mimetype.startsWith('text/')) return 'text';
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'upload a .csv, .xlsx or .txt file', [{ field: 'file', message: 'unsupported file type' }]);
}

/**
 * The upload limit does not fail the file stream: busboy just ends it early
 * and marks it truncated. A cut file is refused whole (413), never imported
 * in part; a file the reader cannot parse (a .xlsx that is not one) is the
 * uploader's fault (422), not a 500.
 */
async function* guardUpload(rows: AsyncIterable<RawCodeRow>, file: { truncated?: boolean }, maxBytes: number): AsyncGenerator<RawCodeRow> {
  const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', `file is larger than the limit of ${maxBytes} bytes; nothing was imported`, [{ field: 'file', message: `larger than ${maxBytes} bytes` }]);
  try {
    yield* rows;
  } catch (err) {
    if (file.truncated) throw tooLarge();
    if (err instanceof AppError) throw err;
    throw new AppError('UNPROCESSABLE', `file could not be read: ${(err as Error).message}`, [{ field: 'file', message: 'could not be read' }]);
  }
  if (file.truncated) throw tooLarge();
}

export async function vaultRoutes(fastify: FastifyInstance, opts: { vault: VaultService; maxImportBytes: number }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { vault } = opts;

  app.post(
    '/admin/vault/imports',
    {
      config: { permission: 'vault:import' },
      schema: {
        tags,
        summary: 'Import a CSV, XLSX or text file of codes (multipart field "file"), streamed; the batch settings are in the query string',
        description: ndjsonNote,
        consumes: ['multipart/form-data'],
        querystring: Strict(ImportMetaFields),
        response: { ...errorResponses, 201: ImportReport, 422: ImportRefusal },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send multipart/form-data with a "file" field', [{ field: 'file', message: 'missing' }]);
      const file = await request.file({ limits: { fileSize: opts.maxImportBytes, files: 1 } });
      if (!file) throw new AppError('VALIDATION_FAILED', 'file: missing', [{ field: 'file', message: 'missing' }]);
      const q = request.query;
      return answerImport(request, reply, (onProgress) =>
        vault.importCodes(
          { skuId: q.sku_id, supplier: q.supplier, unitCostFen: q.unit_cost_fen, expiresAt: q.expires_at ? new Date(q.expires_at) : undefined, region: q.region, mode: q.mode, source: sourceOf(file.filename, file.mimetype) },
          guardUpload(readCodeRows(sourceOf(file.filename, file.mimetype), file.file), file.file, opts.maxImportBytes),
          staffOf(request),
          onProgress,
        ),
      );
    },
  );

  app.post(
    '/admin/vault/imports/text',
    {
      config: { permission: 'vault:import' },
      schema: {
        tags,
        summary: 'Import pasted codes: one per line, "secret" or "card_number secret"',
        description: ndjsonNote,
        body: Strict({ ...ImportMetaFields, text: Type.String({ minLength: 1, maxLength: 2_000_000 }) }),
        response: { ...errorResponses, 201: ImportReport, 422: ImportRefusal },
      },
    },
    async (request, reply) => {
      const b = request.body;
      return answerImport(request, reply, (onProgress) =>
        vault.importCodes(
          { skuId: b.sku_id, supplier: b.supplier, unitCostFen: b.unit_cost_fen, expiresAt: b.expires_at ? new Date(b.expires_at) : undefined, region: b.region, mode: b.mode, source: 'text' },
          readCodeRows('text', Readable.from([b.text])),
          staffOf(request),
          onProgress,
        ),
      );
    },
  );

  app.get(
    '/admin/vault/imports/:id',
    { config: { permission: 'vault:read' }, schema: { tags, summary: 'An import report', params: IdParams('imp'), response: { 200: ImportReport, ...errorResponses } } },
    async (request) => vault.getImport(request.params.id),
  );

  app.post(
    '/admin/vault/generate',
    {
      config: { permission: 'vault:import' },
      schema: {
        tags,
        summary: 'Generate platform codes to a pattern (at least 60 bits of randomness)',
        body: Strict({
          sku_id: Id('sku'),
          count: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          expires_at: Type.Optional(Type.String({ format: 'date-time' })),
          pattern: Strict({
            prefix: Type.Optional(Type.String({ maxLength: 16 })),
            charset: Type.String({ minLength: 2, maxLength: 64, description: `one of ${Object.keys(charsets).join(', ')}, or the characters themselves` }),
            length: Type.Integer({ minimum: 1, maximum: 64 }),
            check_digit: Type.Optional(Type.Boolean()),
            group_size: Type.Optional(Type.Integer({ minimum: 2, maximum: 16 })),
          }),
        }),
        response: { 201: ImportReport, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const report = await vault.generate(
        { skuId: b.sku_id, count: b.count, expiresAt: b.expires_at ? new Date(b.expires_at) : undefined, pattern: { prefix: b.pattern.prefix, charset: b.pattern.charset, length: b.pattern.length, checkDigit: b.pattern.check_digit, groupSize: b.pattern.group_size } },
        staffOf(request),
      );
      return reply.code(201).send(report);
    },
  );

  app.get(
    '/admin/vault/codes',
    {
      config: { permission: 'vault:read' },
      schema: {
        tags,
        summary: 'Codes, masked (last 4 characters only)',
        querystring: Strict({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Id('cod')),
          sku_id: Type.Optional(Id('sku')),
          batch_id: Type.Optional(Id('bat')),
          state: Type.Optional(Type.Union(codeStates.map((s) => Type.Literal(s)))),
        }),
        response: { 200: Page(MaskedCode), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return vault.listCodes({ limit: q.limit, cursor: q.cursor, skuId: q.sku_id, batchId: q.batch_id, state: q.state });
    },
  );

  app.get(
    '/admin/vault/codes/:id',
    {
      config: { permission: 'vault:read' },
      schema: {
        tags,
        summary: 'One code, masked, with its life history',
        params: IdParams('cod'),
        response: {
          200: Type.Composite([MaskedCode, Type.Object({ events: Type.Array(Type.Object({ from: Type.String(), to: Type.String(), actor_type: Type.String(), actor_id: Type.Union([Type.String(), Type.Null()]), ref: Type.Union([Type.String(), Type.Null()]), at: Type.String() })) })]),
          ...errorResponses,
        },
      },
    },
    async (request) => vault.getCode(request.params.id),
  );

  app.post(
    '/admin/vault/codes/:id/reveal',
    {
      config: { permission: 'vault:reveal' },
      schema: {
        tags,
        summary: 'Show one clear code to staff: needs a reason, always audited',
        params: IdParams('cod'),
        body: Strict({ reason: Type.String({ minLength: 5, maxLength: 500 }) }),
        response: { 200: Type.Object({ id: Type.String(), card_number: Type.Union([Type.String(), Type.Null()]), secret: Type.String() }), ...errorResponses },
      },
    },
    async (request) => {
      const c = await vault.revealToStaff(request.params.id, request.body.reason, staffOf(request));
      return { id: c.id, card_number: c.cardNumber ?? null, secret: c.secret };
    },
  );

  app.post(
    '/admin/vault/codes/:id/void',
    {
      config: { permission: 'vault:import' },
      schema: { tags, summary: 'Take a code out of circulation (leaked, faulty)', params: IdParams('cod'), body: Strict({ reason: Type.String({ minLength: 5, maxLength: 500 }) }), response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses } },
    },
    async (request) => {
      const actor = staffOf(request);
      await vault.transition([request.params.id], 'void', { actorType: 'staff', actorId: actor.id, ref: request.body.reason });
      return { ok: true };
    },
  );

  app.get(
    '/admin/vault/batches',
    {
      config: { permission: 'vault:read' },
      schema: { tags, summary: 'Batches (lots) of codes', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Id('bat')), sku_id: Type.Optional(Id('sku')) }), response: { 200: Page(Batch), ...errorResponses } },
    },
    async (request) => vault.listBatches({ limit: request.query.limit, cursor: request.query.cursor, skuId: request.query.sku_id }),
  );

  // ---- bulk export of clear codes: asked, approved by someone else, downloaded once ----
  app.post(
    '/admin/vault/exports',
    {
      config: { permission: 'vault:export' },
      schema: {
        tags,
        summary: 'Ask for a bulk export of clear codes; a second person must approve',
        body: Strict({ sku_id: Id('sku'), batch_id: Type.Optional(Id('bat')), state: Type.Optional(Type.Union(codeStates.map((s) => Type.Literal(s)))), max_codes: Type.Integer({ minimum: 1, maximum: MAX_EXPORT_CODES }), reason: Type.String({ minLength: 5, maxLength: 500 }) }),
        response: { 201: ExportView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      return reply.code(201).send(await vault.exports.request({ skuId: b.sku_id, batchId: b.batch_id, state: b.state, maxCodes: b.max_codes, reason: b.reason }, staffOf(request)));
    },
  );

  app.get(
    '/admin/vault/exports',
    { config: { permission: 'vault:export' }, schema: { tags, summary: 'Export requests', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Id('exp')), status: Type.Optional(Type.String({ maxLength: 16 })) }), response: { 200: Page(ExportView), ...errorResponses } } },
    async (request) => vault.exports.list(request.query),
  );

  app.post(
    '/admin/vault/exports/:id/approve',
    { config: { permission: 'vault:export' }, schema: { tags, summary: 'Approve somebody else\'s export', params: IdParams('exp'), response: { 200: ExportView, ...errorResponses } } },
    async (request) => vault.exports.approve(request.params.id, staffOf(request)),
  );

  app.post(
    '/admin/vault/exports/:id/reject',
    { config: { permission: 'vault:export' }, schema: { tags, summary: 'Refuse an export', params: IdParams('exp'), body: Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) }), response: { 200: ExportView, ...errorResponses } } },
    async (request) => vault.exports.reject(request.params.id, staffOf(request), request.body.reason),
  );

  app.get(
    '/admin/vault/exports/:id/download',
    { config: { permission: 'vault:export' }, schema: { tags, summary: 'Download an approved export once (CSV, watermarked)', params: IdParams('exp'), produces: ['text/csv'] } },
    async (request, reply) => {
      const file = await vault.exports.download(request.params.id, staffOf(request));
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file.filename}"`).header('cache-control', 'no-store').send(file.csv);
    },
  );
}
