import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import Papa from 'papaparse';
import type ExcelJS from 'exceljs';

/**
 * Streaming readers for code files: CSV, XLSX and pasted text. Each yields
 * one row at a time with its line number, so a file of 200,000 codes is
 * never held in memory whole.
 *
 * Columns, by header (English or Chinese) or, without a header, by position:
 *   1 column: secret | 2: card_number, secret | 3: card_number, secret, expires_at
 */
export interface RawCodeRow {
  line: number;
  cardNumber?: string;
  secret?: string;
  expiresAt?: string;
}

export type ImportSource = 'csv' | 'xlsx' | 'text';

const headerNames: Record<string, keyof Omit<RawCodeRow, 'line'>> = {
  secret: 'secret',
  code: 'secret',
  password: 'secret',
  卡密: 'secret',
  密码: 'secret',
  兑换码: 'secret',
  card_number: 'cardNumber',
  cardnumber: 'cardNumber',
  card: 'cardNumber',
  卡号: 'cardNumber',
  expires_at: 'expiresAt',
  expiry: 'expiresAt',
  expire: 'expiresAt',
  有效期: 'expiresAt',
  过期时间: 'expiresAt',
};

type ColumnMap = (keyof Omit<RawCodeRow, 'line'>)[];

function headerMap(cells: string[]): ColumnMap | null {
  const mapped = cells.map((c) => headerNames[c.trim().toLowerCase()]);
  return mapped.includes('secret') ? (mapped as ColumnMap) : null;
}

function positional(n: number): ColumnMap {
  if (n <= 1) return ['secret'];
  if (n === 2) return ['cardNumber', 'secret'];
  return ['cardNumber', 'secret', 'expiresAt'];
}

/** Turns a stream of cell arrays into rows, reading a header if the first row is one. */
async function* rowsFromCells(cells: AsyncIterable<{ line: number; cells: string[] }>): AsyncGenerator<RawCodeRow> {
  let columns: ColumnMap | null = null;
  let first = true;
  for await (const { line, cells: raw } of cells) {
    const values = raw.map((c) => (c ?? '').toString().trim());
    if (values.every((v) => v === '')) continue; // blank lines are not rows
    if (first) {
      first = false;
      const header = headerMap(values);
      if (header) {
        columns = header;
        continue;
      }
    }
    const map = columns ?? positional(values.length);
    const row: RawCodeRow = { line };
    map.forEach((key, i) => {
      const v = values[i];
      if (key && v) row[key] = v;
    });
    yield row;
  }
}

/** Text of a byte stream, with a character split across two chunks (卡号 is 6 bytes) decoded whole. */
async function* utf8Text(input: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    if (text) yield text;
  }
  const tail = decoder.end();
  if (tail) yield tail;
}

/**
 * papaparse over a Node stream, chunk by chunk. (Its Duplex mode, iterated row
 * by row, is some 25 times slower.) The parser pauses after each chunk until
 * its rows are consumed, so memory stays at one chunk.
 */
async function* csvCells(input: Readable): AsyncGenerator<{ line: number; cells: string[] }> {
  const queue: string[][][] = [];
  let finished = false;
  let failure: Error | null = null;
  let parser: Papa.Parser | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  // Decoded here, not by papaparse (which decodes each chunk alone and breaks a character cut between two).
  Papa.parse<string[]>(Readable.from(utf8Text(input)) as unknown as File, {
    skipEmptyLines: false,
    chunk: (results, p) => {
      queue.push(results.data);
      parser = p;
      p.pause();
      notify();
    },
    complete: () => {
      finished = true;
      notify();
    },
    error: (err: Error) => {
      failure = err;
      notify();
    },
  });
  let line = 1;
  for (;;) {
    const rows = queue.shift();
    if (rows) {
      for (const cells of rows) {
        yield { line, cells };
        line += 1 + lineBreaks(cells); // a quoted field may span lines: the next row starts after them
      }
      if (queue.length === 0 && !finished) (parser as Papa.Parser | null)?.resume();
      continue;
    }
    if (failure) throw failure;
    if (finished) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

function lineBreaks(cells: string[]): number {
  let n = 0;
  for (const c of cells) if (c.includes('\n') || c.includes('\r')) n += c.match(/\r\n|\r|\n/g)!.length;
  return n;
}

async function* textCells(input: Readable): AsyncGenerator<{ line: number; cells: string[] }> {
  let line = 0;
  let rest = '';
  for await (const chunk of utf8Text(input)) {
    rest += chunk;
    const parts = rest.split(/\r?\n/);
    rest = parts.pop() ?? '';
    for (const l of parts) yield { line: ++line, cells: splitTextLine(l) };
  }
  if (rest.length) yield { line: ++line, cells: splitTextLine(rest) };
}

/** Pasted lines: "secret", or "card secret" separated by tab, comma, space or the Chinese comma. */
function splitTextLine(l: string): string[] {
  const t = l.trim();
  return t ? t.split(/[\t,，\s]+/) : [];
}

async function* xlsxCells(input: Readable): AsyncGenerator<{ line: number; cells: string[] }> {
  // Styles are read because a date cell is a number with a date format: without them 2030-01-01 reads as "47484".
  // exceljs is large: loaded on the first XLSX import, not at start-up.
  const { default: Excel } = await import('exceljs');
  const reader = new Excel.stream.xlsx.WorkbookReader(input, { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'cache', worksheets: 'emit' });
  for await (const worksheet of reader) {
    for await (const row of worksheet as AsyncIterable<ExcelJS.Row>) {
      const values = (row.values as unknown[]).slice(1).map(cellText);
      yield { line: row.number, cells: values };
    }
    break; // the first sheet only
  }
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o = v as { text?: unknown; result?: unknown; richText?: { text: string }[] };
    if (o.richText) return o.richText.map((r) => r.text).join('');
    if (o.text !== undefined) return String(o.text);
    if (o.result !== undefined) return String(o.result);
  }
  return String(v);
}

export function readCodeRows(source: ImportSource, input: Readable): AsyncGenerator<RawCodeRow> {
  const cells = source === 'csv' ? csvCells(input) : source === 'xlsx' ? xlsxCells(input) : textCells(input);
  return rowsFromCells(cells);
}

export interface CheckedRow {
  line: number;
  cardNumber?: string;
  secret: string;
  expiresAt?: Date;
}

/** Row-level checks; the reason is what the importer reads next to the line number. */
export function checkRow(row: RawCodeRow, now: Date): CheckedRow | { line: number; reason: string } {
  const secret = row.secret?.trim();
  if (!secret) return { line: row.line, reason: 'secret is empty' };
  if (secret.length < 4) return { line: row.line, reason: 'secret is shorter than 4 characters' };
  if (secret.length > 256) return { line: row.line, reason: 'secret is longer than 256 characters' };
  if (/[\s\u0000-\u001f]/.test(secret)) return { line: row.line, reason: 'secret contains spaces or control characters' };
  if (row.cardNumber && row.cardNumber.length > 128) return { line: row.line, reason: 'card number is longer than 128 characters' };
  let expiresAt: Date | undefined;
  if (row.expiresAt) {
    expiresAt = new Date(row.expiresAt);
    if (Number.isNaN(expiresAt.getTime())) return { line: row.line, reason: `expiry "${row.expiresAt}" is not a date` };
    if (expiresAt <= now) return { line: row.line, reason: 'already expired' };
  }
  return { line: row.line, cardNumber: row.cardNumber, secret, expiresAt };
}
