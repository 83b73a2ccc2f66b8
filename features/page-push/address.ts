/**
 * C3: which web addresses may be pushed. Only http and https: a `javascript:`, `data:` or `file:`
 * address (or anything that is not an address) is refused with a message that says why, and never
 * written to the document. Checked again when read, since the document comes from other peers.
 */

export const MAX_ADDRESS_CHARS = 2048;

export type AddressCheck = { ok: true; url: string } | { ok: false; message: string };

const refused = (message: string): AddressCheck => ({ ok: false, message });

/**
 * What the agent typed, as a pushable address. A bare host name ("example.com/help") gets
 * `https://`, as a browser's address bar would do.
 */
export function parseWebAddress(input: string): AddressCheck {
  const typed = input.trim();
  if (typed === '') return refused('Type a web address to push, such as https://example.com.');
  if (typed.length > MAX_ADDRESS_CHARS) return refused(`A web address can have at most ${MAX_ADDRESS_CHARS} characters.`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(typed)?.[1]?.toLowerCase();
  // "localhost:3000" parses as scheme "localhost": a scheme is one only when "//" or a known one follows.
  const hasScheme = scheme !== undefined && (/^[a-z][a-z0-9+.-]*:\/\//i.test(typed) || !/^[a-z0-9.-]+:\d/i.test(typed));
  if (hasScheme && scheme !== 'http' && scheme !== 'https') {
    return refused(`Only web pages can be pushed (addresses starting with http:// or https://), not "${scheme}:" addresses.`);
  }
  const candidate = hasScheme ? typed : `https://${typed}`;
  return checkWebAddress(candidate, hasScheme);
}

/** An address read from the document or typed with its scheme: http(s), a host, no credentials. */
export function checkWebAddress(candidate: string, typedScheme = true): AddressCheck {
  if (candidate.length > MAX_ADDRESS_CHARS) return refused(`A web address can have at most ${MAX_ADDRESS_CHARS} characters.`);
  if (/[\s<>"`]/.test(candidate)) return refused('That is not a web address: it has spaces or characters addresses cannot have.');
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return refused('That is not a web address. Check it and try again, for example https://example.com/help.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return refused('Only web pages can be pushed (addresses starting with http:// or https://).');
  }
  if (!url.hostname) return refused('That address has no site name. Check it and try again.');
  // Without a scheme, "help" or "hello there" is a word, not a site: ask for a dot (or localhost).
  if (!typedScheme && !url.hostname.includes('.') && url.hostname !== 'localhost' && !url.hostname.startsWith('[')) {
    return refused('That is not a web address. Check it and try again, for example https://example.com/help.');
  }
  if (url.username || url.password) {
    return refused('An address with a user name or password in it cannot be pushed: everyone would see them.');
  }
  return { ok: true, url: url.href };
}
