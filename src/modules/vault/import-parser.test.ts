import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { checkRow, readCodeRows, type ImportSource, type RawCodeRow } from './import-parser.js';

async function rows(source: ImportSource, input: string | Buffer | Readable): Promise<RawCodeRow[]> {
  const stream = input instanceof Readable ? input : Readable.from([typeof input === 'string' ? Buffer.from(input) : input]);
  const out: RawCodeRow[] = [];
  for await (const r of readCodeRows(source, stream)) out.push(r);
  return out;
}

/** The same bytes, cut into chunks of `size` bytes (a network upload arrives like this). */
const chunked = (data: string | Buffer, size: number) => {
  const buf = Buffer.from(data);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
};

describe('CSV', () => {
  it('English header: columns by name, in any order, unknown columns ignored', async () => {
    const csv = 'Secret,note,Card_Number,expires_at\r\nAAAA-0001,x,C-1,2099-01-01\r\nAAAA-0002,,C-2,\r\n';
    expect(await rows('csv', csv)).toEqual([
      { line: 2, secret: 'AAAA-0001', cardNumber: 'C-1', expiresAt: '2099-01-01' },
      { line: 3, secret: 'AAAA-0002', cardNumber: 'C-2' },
    ]);
  });

  it('Chinese header 卡号/卡密/有效期', async () => {
    const csv = '卡号,卡密,有效期\n6001,MIMA0001,2099-12-31\n6002,MIMA0002,\n';
    expect(await rows('csv', csv)).toEqual([
      { line: 2, cardNumber: '6001', secret: 'MIMA0001', expiresAt: '2099-12-31' },
      { line: 3, cardNumber: '6002', secret: 'MIMA0002' },
    ]);
    // other accepted names
    expect(await rows('csv', '兑换码,过期时间\nDUIHUAN1,2099-01-01\n')).toEqual([{ line: 2, secret: 'DUIHUAN1', expiresAt: '2099-01-01' }]);
  });

  it('a UTF-8 byte-order mark (Excel "CSV UTF-8") does not hide the header', async () => {
    expect(await rows('csv', '\uFEFF卡号,卡密\nN1,MIMA0003\n')).toEqual([{ line: 2, cardNumber: 'N1', secret: 'MIMA0003' }]);
  });

  it('a Chinese header cut between two chunks in the middle of a character is still read', async () => {
    const csv = '卡号,卡密,有效期\n6001,MIMA0001,2099-12-31\n';
    for (const size of [1, 2, 4, 5, 7]) {
      expect(await rows('csv', chunked(csv, size)), `chunks of ${size} bytes`).toEqual([{ line: 2, cardNumber: '6001', secret: 'MIMA0001', expiresAt: '2099-12-31' }]);
    }
  });

  it('no header, by position: 1 column = secret, 2 = card number + secret, 3 = + expiry', async () => {
    expect(await rows('csv', 'ONLYSECRET1\nONLYSECRET2\n')).toEqual([
      { line: 1, secret: 'ONLYSECRET1' },
      { line: 2, secret: 'ONLYSECRET2' },
    ]);
    expect(await rows('csv', 'CARD1,SECRET01\nCARD2,SECRET02')).toEqual([
      { line: 1, cardNumber: 'CARD1', secret: 'SECRET01' },
      { line: 2, cardNumber: 'CARD2', secret: 'SECRET02' },
    ]);
    expect(await rows('csv', 'CARD1,SECRET01,2099-01-01\nCARD2,SECRET02,\n')).toEqual([
      { line: 1, cardNumber: 'CARD1', secret: 'SECRET01', expiresAt: '2099-01-01' },
      { line: 2, cardNumber: 'CARD2', secret: 'SECRET02' },
    ]);
  });

  it('quoted fields keep their commas and quotes; cells are trimmed', async () => {
    const csv = 'card_number,secret\n"C,1","SEC""RET1"\n  C2  ,  SECRET2  \n';
    expect(await rows('csv', csv)).toEqual([
      { line: 2, cardNumber: 'C,1', secret: 'SEC"RET1' },
      { line: 3, cardNumber: 'C2', secret: 'SECRET2' },
    ]);
  });

  it('blank lines are skipped and line numbers stay the file\'s line numbers', async () => {
    const csv = 'secret\n\nLINE3AAA\n   \n,\nLINE6AAA\n\n\nLINE9AAA\n';
    expect(await rows('csv', csv)).toEqual([
      { line: 3, secret: 'LINE3AAA' },
      { line: 6, secret: 'LINE6AAA' },
      { line: 9, secret: 'LINE9AAA' },
    ]);
  });

  it('a quoted field spanning two lines does not shift the line numbers after it', async () => {
    const csv = 'card_number,secret\n"two\nlines",SECRET02\nC3,SECRET04\n"a\nb\nc",SECRET05\nC6,SECRET08\n';
    const expected = [
      [2, 'SECRET02'],
      [4, 'SECRET04'],
      [5, 'SECRET05'],
      [8, 'SECRET08'],
    ];
    expect((await rows('csv', csv)).map((r) => [r.line, r.secret])).toEqual(expected);
    expect((await rows('csv', csv.replace(/\n/g, '\r\n'))).map((r) => [r.line, r.secret])).toEqual(expected);
  });

  it('line numbers hold across chunk boundaries of a large file', async () => {
    const lines = ['secret'];
    for (let i = 0; i < 5000; i++) lines.push(i % 100 === 0 ? '' : `CODE${String(i).padStart(6, '0')}`);
    const got = await rows('csv', chunked(lines.join('\n'), 777));
    expect(got).toHaveLength(4950);
    for (const r of got) expect(lines[r.line - 1]).toBe(r.secret);
  });

  it('a stream that fails in the middle rejects instead of hanging', async () => {
    const input = new Readable({ read() {} });
    input.push('secret\nAAAA1111\n');
    setTimeout(() => input.destroy(new Error('connection reset')), 10);
    await expect(rows('csv', input)).rejects.toThrow('connection reset');
  }, 5000);
});

describe('pasted text', () => {
  it('one secret per line, or card number and secret separated by tab, comma, Chinese comma or spaces', async () => {
    const text = 'SOLO0001\nC1\tTAB00001\nC2,COMMA001\nC3，CNCOMMA1\nC4   SPACES01\n\n  \nC5 , MIXED001\r\nC6\tSEC00006\t2099-01-01\n';
    expect(await rows('text', text)).toEqual([
      { line: 1, secret: 'SOLO0001' },
      { line: 2, cardNumber: 'C1', secret: 'TAB00001' },
      { line: 3, cardNumber: 'C2', secret: 'COMMA001' },
      { line: 4, cardNumber: 'C3', secret: 'CNCOMMA1' },
      { line: 5, cardNumber: 'C4', secret: 'SPACES01' },
      { line: 8, cardNumber: 'C5', secret: 'MIXED001' },
      { line: 9, cardNumber: 'C6', secret: 'SEC00006', expiresAt: '2099-01-01' },
    ]);
  });

  it('a last line without newline is read; a string stream works as well as bytes', async () => {
    expect(await rows('text', Readable.from(['AAAA0001\nBBBB', '0002']))).toEqual([
      { line: 1, secret: 'AAAA0001' },
      { line: 2, secret: 'BBBB0002' },
    ]);
  });

  it('a Chinese comma cut between two chunks is still a separator', async () => {
    for (const size of [1, 2, 3, 4]) {
      expect(await rows('text', chunked('C1，SECRET01\nC2，SECRET02', size)), `chunks of ${size} bytes`).toEqual([
        { line: 1, cardNumber: 'C1', secret: 'SECRET01' },
        { line: 2, cardNumber: 'C2', secret: 'SECRET02' },
      ]);
    }
  });

  it('a header line is recognised in text too', async () => {
    expect(await rows('text', '卡号 卡密\nN1 SECRET01\n')).toEqual([{ line: 2, cardNumber: 'N1', secret: 'SECRET01' }]);
  });
});

describe('XLSX (streamed)', () => {
  async function workbook(fill: (ws: ExcelJS.Worksheet) => void, extraSheet = false) {
    const wb = new ExcelJS.Workbook();
    fill(wb.addWorksheet('codes'));
    if (extraSheet) wb.addWorksheet('other').addRow(['OTHERSHEET1']);
    return Buffer.from(await wb.xlsx.writeBuffer());
  }

  it('reads the first sheet with a Chinese header; row numbers are the sheet\'s; blank rows skipped; dates become ISO dates', async () => {
    const buf = await workbook((ws) => {
      ws.addRow(['卡号', '卡密', '有效期']);
      ws.addRow(['6001', 'XLSX0001', new Date('2099-06-30T00:00:00Z')]);
      ws.addRow(['6002', 'XLSX0002', '2099-01-01']);
      ws.getRow(5).values = ['6005', 'XLSX0005'];
      ws.getRow(6).values = [6006, 12345678];
    }, true);
    expect(await rows('xlsx', Readable.from(buf))).toEqual([
      { line: 2, cardNumber: '6001', secret: 'XLSX0001', expiresAt: '2099-06-30T00:00:00.000Z' },
      { line: 3, cardNumber: '6002', secret: 'XLSX0002', expiresAt: '2099-01-01' },
      { line: 5, cardNumber: '6005', secret: 'XLSX0005' },
      { line: 6, cardNumber: '6006', secret: '12345678' },
    ]);
  });

  it('without header, by position; rich text and formula results are read as their text', async () => {
    const buf = await workbook((ws) => {
      ws.addRow(['C1', 'PLAIN001']);
      ws.addRow(['C2', { richText: [{ text: 'RICH' }, { text: '0002' }] }]);
      ws.addRow(['C3', { formula: '"FORM"&"0003"', result: 'FORM0003' }]);
    });
    expect(await rows('xlsx', Readable.from(buf))).toEqual([
      { line: 1, cardNumber: 'C1', secret: 'PLAIN001' },
      { line: 2, cardNumber: 'C2', secret: 'RICH0002' },
      { line: 3, cardNumber: 'C3', secret: 'FORM0003' },
    ]);
  });
});

describe('checkRow', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const reason = (r: Omit<RawCodeRow, 'line'>) => {
    const out = checkRow({ line: 7, ...r }, now);
    return 'reason' in out ? out : null;
  };

  it('gives each bad row its line and reason', () => {
    expect(reason({})).toEqual({ line: 7, reason: 'secret is empty' });
    expect(reason({ secret: '   ' })).toEqual({ line: 7, reason: 'secret is empty' });
    expect(reason({ secret: 'abc' })).toEqual({ line: 7, reason: 'secret is shorter than 4 characters' });
    expect(reason({ secret: 'x'.repeat(257) })).toEqual({ line: 7, reason: 'secret is longer than 256 characters' });
    expect(reason({ secret: 'HAS SPACE' })).toEqual({ line: 7, reason: 'secret contains spaces or control characters' });
    expect(reason({ secret: 'TAB\tTAB' })).toEqual({ line: 7, reason: 'secret contains spaces or control characters' });
    expect(reason({ secret: 'CTRL\u0001X' })).toEqual({ line: 7, reason: 'secret contains spaces or control characters' });
    expect(reason({ secret: 'GOOD0001', cardNumber: 'n'.repeat(129) })).toEqual({ line: 7, reason: 'card number is longer than 128 characters' });
    expect(reason({ secret: 'GOOD0001', expiresAt: 'someday' })).toEqual({ line: 7, reason: 'expiry "someday" is not a date' });
    expect(reason({ secret: 'GOOD0001', expiresAt: '2025-12-31' })).toEqual({ line: 7, reason: 'already expired' });
    expect(reason({ secret: 'GOOD0001', expiresAt: '2026-01-01T00:00:00Z' })).toEqual({ line: 7, reason: 'already expired' });
  });

  it('passes a good row through, trimmed, with its expiry as a Date', () => {
    expect(checkRow({ line: 3, secret: '  GOOD0001 ', cardNumber: 'C1', expiresAt: '2026-01-01T00:00:01Z' }, now)).toEqual({
      line: 3,
      cardNumber: 'C1',
      secret: 'GOOD0001',
      expiresAt: new Date('2026-01-01T00:00:01Z'),
    });
    expect(checkRow({ line: 4, secret: 'x'.repeat(256) }, now)).toEqual({ line: 4, secret: 'x'.repeat(256), cardNumber: undefined, expiresAt: undefined });
    expect(checkRow({ line: 5, secret: 'ABCD' }, now)).toMatchObject({ line: 5, secret: 'ABCD' });
  });
});
