/** Report days: 'YYYY-MM-DD' calendar days of REPORT_TIMEZONE, with day arithmetic that ignores clocks. */
export interface DayRange {
  from: string;
  to: string;
  /** days in the range, both ends included */
  days: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The calendar day of an instant in a time zone. */
export function dayIn(at: Date, timeZone: string): string {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  return f.format(at);
}

const utc = (day: string) => Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
export const addDays = (day: string, n: number) => new Date(utc(day) + n * 86_400_000).toISOString().slice(0, 10);
export const daysBetween = (from: string, to: string) => Math.round((utc(to) - utc(from)) / 86_400_000);

const monthStart = (day: string) => `${day.slice(0, 7)}-01`;
const nextMonth = (month: string) => {
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7));
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
};
const EMPTY: [string, string] = ['2000-01-02', '2000-01-01'];

/**
 * A range as the whole months inside it plus the days at either edge, so a
 * long report reads monthly rollups and only its edge days from the daily
 * ones. Empty parts are ranges that end before they start (they match nothing).
 */
export function splitRange(from: string, to: string): { head: [string, string]; months: [string, string]; tail: [string, string] } {
  const firstFull = from === monthStart(from) ? from : nextMonth(monthStart(from));
  const afterTo = addDays(to, 1);
  const lastFull = afterTo === monthStart(afterTo) ? monthStart(to) : addDays(monthStart(to), -1).slice(0, 8) + '01';
  if (firstFull > lastFull) return { head: [from, to], months: EMPTY, tail: EMPTY };
  return {
    head: from < firstFull ? [from, addDays(firstFull, -1)] : EMPTY,
    months: [firstFull, lastFull],
    tail: nextMonth(lastFull) <= to ? [nextMonth(lastFull), to] : EMPTY,
  };
}
