import { useState } from 'preact/hooks';
import { ApiError } from '../../lib/api';
import { formatNumber, t } from '../../lib/i18n';
import { Form, ProgressBar } from '../../components';
import { FieldInput, KeyValues, StatusBadge, ft, useSkuOptions, yuanToFen } from './kit';

interface ImportReport {
  id: string;
  batch_id: string | null;
  status: string;
  total_rows: number;
  accepted: number;
  rejected: number;
  rejections: { line: number; reason: string }[];
}
interface Progress {
  rows: number;
  accepted: number;
  rejected: number;
  /** Lines expected (known for pasted text and CSV/TXT files; not for XLSX). */
  expected?: number;
  done: boolean;
}

const NDJSON = 'application/x-ndjson';

/** Lines a text/CSV import will read: non-blank lines (a CSV header is counted too, so the bar may stop just short and then jump to done). */
function countLines(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

function errorOf(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
  const details = e?.details ?? null;
  const first = Array.isArray(details) ? (details[0] as { field?: string } | undefined)?.field ?? null : null;
  return new ApiError(status, e?.code ?? `HTTP_${status}`, e?.message ?? `HTTP ${status}`, first, details);
}

/**
 * Sends an import and follows it: the server streams one progress line per
 * written chunk (Accept: application/x-ndjson) and ends with the report; a
 * small import or a refused request answers as ordinary JSON.
 */
async function runImport(req: { url: string; body: BodyInit; headers: Record<string, string> }, onProgress: (p: Omit<Progress, 'expected' | 'done'>) => void): Promise<ImportReport> {
  const res = await fetch(req.url, { method: 'POST', body: req.body, headers: { accept: `${NDJSON}, application/json`, ...req.headers }, credentials: 'same-origin' });
  if (!(res.headers.get('content-type') ?? '').includes(NDJSON) || !res.body) {
    const body = (await res.json().catch(() => null)) as unknown;
    if (res.status === 201 || res.status === 422) {
      if (body && typeof body === 'object' && 'rejections' in body) return body as ImportReport;
    }
    throw errorOf(res.status, body);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffered += value;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as { type: string; rows?: number; accepted?: number; rejected?: number; report?: ImportReport; status?: number; error?: unknown };
      buffered = buffered.slice(nl + 1);
      if (line.type === 'progress') onProgress({ rows: line.rows ?? 0, accepted: line.accepted ?? 0, rejected: line.rejected ?? 0 });
      else if (line.type === 'report' && line.report) return line.report;
      else if (line.type === 'error') throw errorOf(line.status ?? 500, line);
    }
    if (done) throw new ApiError(0, 'NETWORK', 'the import stream ended without a report', null, null);
  }
}

export function ImportPanel(props: { onImported?: () => void }) {
  const skus = useSkuOptions();
  const [form, setForm] = useState({ sku_id: '', supplier: '', unit_cost: '', expires_at: '', region: '', mode: 'accept_valid', text: '' });
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const set = (k: keyof typeof form) => (v: string) => setForm({ ...form, [k]: v });
  const skuId = form.sku_id || skus[0]?.value || '';

  const submit = async () => {
    setReport(null);
    const meta = {
      sku_id: skuId,
      supplier: form.supplier.trim(),
      unit_cost_fen: yuanToFen(form.unit_cost),
      mode: form.mode,
      ...(form.expires_at ? { expires_at: new Date(form.expires_at).toISOString() } : {}),
      ...(form.region.trim() ? { region: form.region.trim() } : {}),
    };
    if (!file && !form.text.trim()) throw new ApiError(400, 'VALIDATION_FAILED', t('imp.nothing'), 'text', [{ field: 'text', message: t('imp.nothing') }]);
    let req: { url: string; body: BodyInit; headers: Record<string, string> };
    let expected: number | undefined;
    if (file) {
      const q = new URLSearchParams(Object.entries(meta).map(([k, v]) => [k, String(v)]));
      const body = new FormData();
      body.append('file', file, file.name);
      req = { url: `/admin/vault/imports?${q}`, body, headers: {} };
      expected = /\.xlsx$/i.test(file.name) ? undefined : countLines(await file.text());
    } else {
      req = { url: '/admin/vault/imports/text', body: JSON.stringify({ ...meta, text: form.text }), headers: { 'content-type': 'application/json' } };
      expected = countLines(form.text);
    }
    setProgress({ rows: 0, accepted: 0, rejected: 0, expected, done: false });
    try {
      const r = await runImport(req, (p) => setProgress({ ...p, expected, done: false }));
      setProgress({ rows: r.total_rows, accepted: r.accepted, rejected: r.rejected, expected: r.total_rows, done: true });
      setReport(r);
      if (r.status === 'completed') props.onImported?.();
    } catch (e) {
      setProgress(null);
      throw e;
    }
  };

  return (
    <div class="ops-grid">
      <section class="ops-card">
        <h2>{t('imp.title')}</h2>
        <Form onSubmit={submit} submitLabel={t('imp.start')}>
          <FieldInput name="sku_id" label={ft('sku_id')} value={skuId} onInput={set('sku_id')} options={skus} />
          <FieldInput name="supplier" label={ft('supplier')} value={form.supplier} onInput={set('supplier')} />
          <FieldInput name="unit_cost_fen" label={t('imp.unit_cost')} value={form.unit_cost} onInput={set('unit_cost')} type="number" />
          <FieldInput name="expires_at" label={ft('expires_at')} value={form.expires_at} onInput={set('expires_at')} type="datetime-local" />
          <FieldInput name="region" label={ft('region')} value={form.region} onInput={set('region')} placeholder="CN" />
          <FieldInput name="mode" label={ft('mode')} value={form.mode} onInput={set('mode')} options={[{ value: 'accept_valid', label: t('imp.mode_accept_valid') }, { value: 'all_or_nothing', label: t('imp.mode_all_or_nothing') }]} />
          <label class="field">
            <span class="field-label">{t('imp.file')}</span>
            <input type="file" name="file" accept=".csv,.txt,.xlsx" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
          </label>
          <FieldInput name="text" label={t('imp.paste')} value={form.text} onInput={set('text')} textarea placeholder={t('imp.paste_hint')} />
        </Form>
      </section>
      <section class="ops-card" data-testid="import-result">
        <h2>{t('imp.progress')}</h2>
        {!progress && <p class="muted">{t('imp.idle')}</p>}
        {progress && (
          <div data-testid="import-progress" data-done={progress.done ? 'true' : 'false'}>
            <ProgressBar
              value={progress.rows}
              max={progress.expected}
              label={progress.done ? t('imp.done', { rows: formatNumber(progress.rows) }) : t('imp.reading', { rows: formatNumber(progress.rows), accepted: formatNumber(progress.accepted), rejected: formatNumber(progress.rejected) })}
            />
          </div>
        )}
        {report && (
          <>
            <KeyValues
              rows={[
                [ft('status'), <StatusBadge value={report.status} />],
                [ft('id'), report.id],
                [ft('batch_id'), report.batch_id],
                [ft('total_rows'), formatNumber(report.total_rows)],
                [ft('accepted'), formatNumber(report.accepted)],
                [ft('rejected'), formatNumber(report.rejected)],
              ]}
            />
            {report.rejections.length > 0 && (
              <div class="rejections table-wrap">
                <table data-testid="import-rejections">
                  <thead>
                    <tr>
                      <th>{t('imp.line')}</th>
                      <th>{t('imp.reason')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {report.rejections.map((r) => (
                      <tr key={`${r.line}:${r.reason}`}>
                        <td>{r.line}</td>
                        <td>{r.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {report.rejected > report.rejections.length && <p class="muted">{t('imp.more_rejections', { n: report.rejected - report.rejections.length })}</p>}
              </div>
            )}
          </>
        )}
      </section>
    </div>
  );
}
