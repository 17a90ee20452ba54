import { describe, expect, it } from 'vitest';
import { toCsv } from '../../admin/src/components/export.js';

describe("the panel's CSV export", () => {
  const columns = [
    { title: '名称', value: (r: { name: string; fen: number }) => r.name },
    { title: 'fen', value: (r: { name: string; fen: number }) => r.fen },
  ];

  it('writes a BOM (Excel reads UTF-8 Chinese), CRLF lines and quotes what needs quoting', () => {
    const csv = toCsv(columns, [
      { name: '腾讯视频 "月卡", 30天', fen: 1990 },
      { name: 'line\nbreak', fen: 0 },
    ]);
    expect(csv).toBe('\uFEFF名称,fen\r\n"腾讯视频 ""月卡"", 30天",1990\r\n"line\nbreak",0\r\n');
  });

  it('neutralises cells a spreadsheet would run as formulas', () => {
    const csv = toCsv(columns, [
      { name: '=HYPERLINK("http://evil")', fen: 1 },
      { name: '+1', fen: 2 },
      { name: '@SUM(A1)', fen: 3 },
      { name: '-A1+B1', fen: -5 },
      { name: '-12.5', fen: 0 },
    ]);
    // Numbers (and text that is just a number) stay numbers: negative amounts must survive the export.
    expect(csv.split('\r\n').slice(1, 6)).toEqual([`"'=HYPERLINK(""http://evil"")",1`, '+1,2', "'@SUM(A1),3", "'-A1+B1,-5", '-12.5,0']);
  });
});
