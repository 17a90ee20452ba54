import { describe, expect, it } from 'vitest';
import QRCode from 'qrcode';
import { escapeXml, joinLink, POSTER_HEIGHT, POSTER_QR_SIZE, POSTER_WIDTH, renderPoster } from './poster.js';

/**
 * No QR decoder is installed, so the check is on the drawing: the dark
 * modules of the path the poster nests are exactly the module matrix
 * QRCode.create gives for the link (what a scanner would read back).
 */
function drawnMatrix(svg: string): { size: number; dark: Set<string> } {
  const qr = /<svg id="qr"[^>]*viewBox="0 0 (\d+) (\d+)"[^>]*>([\s\S]*?)<\/svg>/.exec(svg);
  if (!qr) throw new Error('no QR in the poster');
  const path = /<path[^>]*stroke="#000000"[^>]*d="([^"]+)"/.exec(qr[3]!);
  if (!path) throw new Error('no dark path in the QR');
  const dark = new Set<string>();
  let x = 0;
  let y = 0;
  for (const [, cmd, args] of path[1]!.matchAll(/([MmhHvV])([^MmhHvV]*)/g)) {
    const n = args!.trim().split(/[\s,]+/).filter(Boolean).map(Number);
    if (cmd === 'M') [x, y] = [n[0]!, n[1]!];
    else if (cmd === 'm') [x, y] = [x + n[0]!, y + n[1]!];
    else if (cmd === 'h') {
      for (let i = 0; i < n[0]!; i++) dark.add(`${Math.floor(y)},${x + i}`);
      x += n[0]!;
    } else throw new Error(`unexpected path command ${cmd}`);
  }
  return { size: Number(qr[1]), dark };
}

describe('promotion poster', () => {
  it('is a 750x1334 SVG with the name escaped, the code and the link', async () => {
    const link = joinLink('https://kq.example.com/', 'AB12CD');
    expect(link).toBe('https://kq.example.com/join/AB12CD');
    const svg = await renderPoster({ displayName: `T&"J" <script>'x'\u0007`, referralCode: 'AB12CD', link });
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain(`width="${POSTER_WIDTH}" height="${POSTER_HEIGHT}"`);
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('\u0007');
    expect(svg).toContain('>T&amp;&quot;J&quot; &lt;script&gt;&apos;x&apos;</text>');
    expect(svg).toMatch(/<text id="referral-code"[^>]*>AB12CD<\/text>/);
    expect(svg).toMatch(/<text id="join-link"[^>]*>https:\/\/kq\.example\.com\/join\/AB12CD<\/text>/);
    // Every '<' that remains opens one of our own elements.
    expect([...svg.matchAll(/<([a-zA-Z?/!]+)/g)].map((m) => m[1]).filter((tag) => !['?xml', 'svg', '/svg', 'defs', '/defs', 'linearGradient', '/linearGradient', 'stop', 'rect', 'text', '/text', 'path'].includes(tag!))).toEqual([]);
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it('keeps a CJK name whole and cuts a long one on a character boundary', async () => {
    const svg = await renderPoster({ displayName: '卡券小店🎉', referralCode: 'ZZ99', link: 'https://x.test/join/ZZ99' });
    expect(svg).toContain('>卡券小店🎉</text>');
    const long = await renderPoster({ displayName: '🎉'.repeat(40), referralCode: 'ZZ99', link: 'https://x.test/join/ZZ99' });
    expect(long).toContain(`>${'🎉'.repeat(23)}…</text>`);
  });

  it('draws exactly the QR module matrix of the join link', async () => {
    for (const link of ['https://kq.example.com/join/AB12CD', 'http://127.0.0.1:3000/join/Q7W8E9R0T1']) {
      const svg = await renderPoster({ displayName: 'Agent', referralCode: 'X', link });
      const drawn = drawnMatrix(svg);
      const qr = QRCode.create(link, { errorCorrectionLevel: 'M' });
      expect(drawn.size).toBe(qr.modules.size);
      const expected = new Set<string>();
      for (let r = 0; r < qr.modules.size; r++) for (let c = 0; c < qr.modules.size; c++) if (qr.modules.get(r, c)) expected.add(`${r},${c}`);
      expect(drawn.dark.size).toBe(expected.size);
      expect([...drawn.dark].filter((k) => !expected.has(k))).toEqual([]);
      expect(svg).toMatch(new RegExp(`<svg id="qr" x="\\d+" y="\\d+" width="${POSTER_QR_SIZE}" height="${POSTER_QR_SIZE}"`));
    }
    // A different link draws a different matrix (the check above is not vacuous).
    const a = drawnMatrix(await renderPoster({ displayName: 'A', referralCode: 'X', link: 'https://kq.example.com/join/AAAA' }));
    const b = drawnMatrix(await renderPoster({ displayName: 'A', referralCode: 'X', link: 'https://kq.example.com/join/BBBB' }));
    expect([...a.dark].sort()).not.toEqual([...b.dark].sort());
  });
});
