import QRCode from 'qrcode';

/**
 * The agent's promotion poster: a phone-screen sized SVG (750x1334) with the
 * agent's display name, its referral code, the join link and a QR code of the
 * link. Pure: no database, no clock; the QR is the `qrcode` package's own SVG
 * of the link, nested as it is, so what scans is exactly what QRCode encodes.
 */

export const POSTER_WIDTH = 750;
export const POSTER_HEIGHT = 1334;
/** Side of the drawn QR code (px); the quiet zone around it is the white card. */
export const POSTER_QR_SIZE = 440;
const MAX_NAME_CHARS = 24;

/** The join link of a referral code under the installation's public URL. */
export function joinLink(publicUrl: string, referralCode: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/join/${encodeURIComponent(referralCode)}`;
}

/** Text safe inside an XML element or a double/single-quoted attribute; characters XML 1.0 forbids are dropped. */
export function escapeXml(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** At most `max` characters (code points, so a CJK name or an emoji is not cut in half), with an ellipsis when cut. */
function clip(text: string, max: number): string {
  const chars = [...text.trim()];
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

/** The QR code of `text` as the qrcode package draws it (no margin), re-rooted at x,y with the given size. */
async function qrSvg(text: string, x: number, y: number, size: number): Promise<string> {
  const svg = await QRCode.toString(text, { type: 'svg', margin: 0, errorCorrectionLevel: 'M', color: { dark: '#000000', light: '#ffffff' } });
  const m = /<svg[^>]*viewBox="0 0 (\d+) (\d+)"[^>]*>([\s\S]*)<\/svg>\s*$/.exec(svg);
  if (!m) throw new Error('qrcode: unexpected SVG output');
  return `<svg id="qr" x="${x}" y="${y}" width="${size}" height="${size}" viewBox="0 0 ${m[1]} ${m[2]}" shape-rendering="crispEdges">${m[3]}</svg>`;
}

export interface PosterInput {
  displayName: string;
  referralCode: string;
  link: string;
}

export async function renderPoster(input: PosterInput): Promise<string> {
  const W = POSTER_WIDTH;
  const H = POSTER_HEIGHT;
  const card = { x: 115, y: 420, w: 520, h: 520 };
  const qrX = card.x + (card.w - POSTER_QR_SIZE) / 2;
  const qrY = card.y + (card.h - POSTER_QR_SIZE) / 2;
  const name = escapeXml(clip(input.displayName, MAX_NAME_CHARS));
  const code = escapeXml(input.referralCode);
  const link = escapeXml(input.link);
  const font = `font-family="'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', 'Helvetica Neue', Arial, sans-serif"`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#ff6a3d"/><stop offset="1" stop-color="#c81d25"/></linearGradient></defs>`,
    `<rect width="${W}" height="${H}" fill="url(#bg)"/>`,
    `<text x="${W / 2}" y="170" text-anchor="middle" ${font} font-size="64" font-weight="700" fill="#ffffff">${name}</text>`,
    `<text x="${W / 2}" y="250" text-anchor="middle" ${font} font-size="34" fill="#ffe9d6">邀请你加入 · Join my team</text>`,
    `<rect x="${card.x}" y="${card.y}" width="${card.w}" height="${card.h}" rx="28" fill="#ffffff"/>`,
    await qrSvg(input.link, qrX, qrY, POSTER_QR_SIZE),
    `<text x="${W / 2}" y="1030" text-anchor="middle" ${font} font-size="30" fill="#ffe9d6">邀请码 Referral code</text>`,
    `<text id="referral-code" x="${W / 2}" y="1100" text-anchor="middle" font-family="'SF Mono', Menlo, Consolas, monospace" font-size="60" font-weight="700" letter-spacing="6" fill="#ffffff">${code}</text>`,
    `<text id="join-link" x="${W / 2}" y="1200" text-anchor="middle" ${font} font-size="24" fill="#ffffff">${link}</text>`,
    `<text x="${W / 2}" y="1270" text-anchor="middle" ${font} font-size="24" fill="#ffd2bf">扫码注册 · Scan to sign up</text>`,
    `</svg>`,
  ].join('\n');
}
