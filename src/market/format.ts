/**
 * Number and word formatting for the one-sentence `detail` of each bid result.
 * Deterministic: no locale, no `Intl`.
 */

/** Powers of ten 10^0 … 10^10 (exact doubles). */
const POWERS_OF_TEN = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/**
 * A number as the record shows it: integers as they are, others rounded to 6 significant digits
 * (0.1 + 0.2 → "0.3", 1/3 → "0.333333"). Hot path (every bid's detail): values in [1e-4, 1e6)
 * are rounded to an integer and the decimal point placed by hand, which avoids converting a
 * long double to a string.
 */
export function formatNumber(value: number): string {
  if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude < 1e-4 || magnitude >= 1e6) return String(Number(value.toPrecision(6)));
  const decimals = 5 - Math.floor(Math.log10(magnitude));
  const digits = String(Math.round(magnitude * (POWERS_OF_TEN[decimals] as number))).padStart(decimals + 1, "0");
  const point = digits.length - decimals;
  let end = digits.length;
  while (end > point && digits.charCodeAt(end - 1) === 48 /* "0" */) end--;
  const text = end > point ? `${digits.slice(0, point)}.${digits.slice(point, end)}` : digits.slice(0, point);
  return value < 0 ? `-${text}` : text;
}

/** Ordinal suffixes other than "th", by last digit. */
const ORDINAL_SUFFIXES: Readonly<Record<number, string>> = { 1: "st", 2: "nd", 3: "rd" };

/** 1 → "1st", 2 → "2nd", 3 → "3rd", 11 → "11th", 22 → "22nd". */
export function ordinal(position: number): string {
  const lastTwo = position % 100;
  if (lastTwo >= 11 && lastTwo <= 13) return `${position}th`;
  return `${position}${ORDINAL_SUFFIXES[position % 10] ?? "th"}`;
}

/** `count` followed by `noun`, pluralised with "s" unless `count` is 1. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
