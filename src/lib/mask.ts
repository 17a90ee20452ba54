/** How secrets and personal data look wherever they are shown or logged. */

/** "13812341234" -> "138****1234"; "+8613812341234" -> "+86138****1234". */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[\s-]/g, '');
  if (digits.length < 7) return '*'.repeat(digits.length);
  // 11-digit mobile: first 3 and last 4 stay (138****1234); a country code stays in front.
  return `${digits.slice(0, Math.max(0, digits.length - 8))}****${digits.slice(-4)}`;
}

/** A code's secret shown with only its last 4 characters. */
export function maskSecret(secret: string): string {
  if (secret.length <= 4) return '*'.repeat(secret.length);
  return `${'*'.repeat(Math.min(8, secret.length - 4))}${secret.slice(-4)}`;
}

const mainlandMobile = /(?<!\d)(\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)/g;

/** Masks every mainland mobile number inside free text (log messages, notes). */
export function maskPhonesInText(text: string): string {
  return text.replace(mainlandMobile, (_m, cc: string | undefined, head: string, _mid: string, tail: string) => `${cc ?? ''}${head}****${tail}`);
}
