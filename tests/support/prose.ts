/**
 * Word-like text for large documents in tests and benchmarks: what a transcript holds, so that
 * deflate (decision 0018) takes it to about a third, as it does real conversation. Seeded, so a
 * given (length, seed) is always the same text. A repeated sentence would deflate a
 * hundredfold and make every large-transfer figure meaningless.
 */
const WORDS = (
  'the of and to a in is you that it he was for on are as with his they I at be this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if will up other ' +
  'about out many then them these so some her would make like him into time has look two more write go see ' +
  'number no way could people my than first water been call who its now find long down day did get come made ' +
  'may part order account refund delivery address payment invoice parcel thanks please help problem issue card ' +
  'number yesterday tomorrow morning courier tracking return label discount subscription password email phone'
).split(' ');

export function prose(length: number, seed = 1): string {
  let s = seed >>> 0;
  // mulberry32
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const parts: string[] = [];
  let n = 0;
  let sentenceStart = true;
  while (n < length) {
    let w = WORDS[Math.floor(next() * WORDS.length)]!;
    if (sentenceStart) w = w[0]!.toUpperCase() + w.slice(1);
    sentenceStart = next() < 0.08;
    const piece = sentenceStart ? `${w}. ` : `${w} `;
    parts.push(piece);
    n += piece.length;
  }
  return parts.join('').slice(0, length);
}
