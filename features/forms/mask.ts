/**
 * C4 masking, in the typist's browser: what the shared document (and so every other peer, the
 * transcript and the exports) gets instead of a masked field's clear value.
 *
 * While the value is being typed, or is not a complete value of its type, every character is a
 * bullet: revealing the "last four" of a half-typed number would show a different window of digits
 * at each keystroke, and the peers receive every one. Only a complete value (a card number that
 * passes the Luhn check, the field left) shows its last `showLast` characters.
 */
import type { FieldDefinition } from './schema';

const BULLET = '•';

export const digitsOf = (s: string) => s.replace(/\D/g, '');

/** ISO/IEC 7812 check digit. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function isCompleteCardNumber(value: string): boolean {
  const d = digitsOf(value);
  return d.length >= 13 && d.length <= 19 && luhnValid(d) && /^[\d\s-]+$/.test(value.trim());
}

/** Is the value complete enough that its last characters may be shown? */
function complete(field: FieldDefinition, value: string): boolean {
  if (field.type === 'card-number') return isCompleteCardNumber(value);
  // Anything else: only when the end shown is at most a third of it.
  return value.trim().length >= 3 * (field.masked?.showLast ?? 0);
}

/**
 * The masked form of `value` for `field`. `settled`: the typist has left the field (a blur), so the
 * value is not mid-keystroke.
 */
export function maskValue(field: FieldDefinition, value: string, settled: boolean): string {
  if (value === '') return '';
  const showLast = field.masked?.showLast ?? 0;
  if (field.type === 'card-number') {
    const d = digitsOf(value);
    const n = Math.max(d.length, 1);
    const reveal = settled && showLast > 0 && complete(field, value) ? d.slice(-showLast) : '';
    const hidden = BULLET.repeat(n - reveal.length) + reveal;
    return hidden.replace(/(.{4})(?=.)/g, '$1 ');
  }
  const compact = value.trim();
  const reveal = settled && showLast > 0 && complete(field, value) ? compact.slice(-showLast) : '';
  return BULLET.repeat(Math.max(compact.length - reveal.length, 1)) + reveal;
}

/** What a value must look like before the agent can submit (empty is checked separately). */
export function fieldProblem(field: FieldDefinition, value: string): string | null {
  const v = value.trim();
  if (v === '') return field.required ? `${field.label} is required.` : null;
  if (v.length > field.maxLength) return `${field.label} can have at most ${field.maxLength} characters.`;
  switch (field.type) {
    case 'email':
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? null : `${field.label} is not an e-mail address.`;
    case 'card-number':
      return isCompleteCardNumber(v) ? null : `${field.label} is not a valid card number.`;
    case 'expiry': {
      const m = /^(\d{2})\s*\/\s*(\d{2})$/.exec(v);
      return m && Number(m[1]) >= 1 && Number(m[1]) <= 12 ? null : `${field.label}: use MM/YY, for example 04/29.`;
    }
    case 'number':
      return /^-?\d+([.,]\d+)?$/.test(v) ? null : `${field.label} is not a number.`;
    default:
      return null;
  }
}
