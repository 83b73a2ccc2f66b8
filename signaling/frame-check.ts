/**
 * C3: can a pushed page be shown in a frame on the Join Us pages? A site that refuses framing
 * (X-Frame-Options, CSP frame-ancestors) shows an error page inside the frame, and a browser cannot
 * tell the embedding page so (the frame is cross-origin). So the server asks the site once, when the
 * agent pushes, and the push carries the answer: where the site refuses, every participant gets a
 * clear "open in a new tab" instead of a broken frame. Only the verdict comes back, never content.
 */
import type { Framing } from '../features/page-push/doc';

export interface FramingHeaders {
  xFrameOptions: string | null;
  contentSecurityPolicy: string | null;
}

/** The browser's decision (CSP Level 3 frame-ancestors wins over X-Frame-Options), conservatively. */
export function framingFromHeaders(h: FramingHeaders, pageUrl: string, embedderOrigin: string | null): Exclude<Framing, 'unknown'> {
  const page = new URL(pageUrl);
  const embedder = embedderOrigin ? safeUrl(embedderOrigin) : null;
  const sameOrigin = embedder !== null && embedder.origin === page.origin;
  if (h.contentSecurityPolicy) {
    // Several policies (several headers, joined by commas): each one must allow it.
    const policies = h.contentSecurityPolicy.split(',');
    let constrained = false;
    for (const policy of policies) {
      for (const directive of policy.split(';')) {
        const [name, ...sources] = directive.trim().split(/\s+/);
        if (name?.toLowerCase() !== 'frame-ancestors') continue;
        constrained = true;
        if (!sources.some((s) => sourceMatches(s, page, embedder, sameOrigin))) return 'refused';
      }
    }
    if (constrained) return 'allowed';
  }
  if (h.xFrameOptions) {
    const values = h.xFrameOptions.split(',').map((v) => v.trim().toLowerCase());
    if (values.includes('deny')) return 'refused';
    if (values.includes('sameorigin') && !sameOrigin) return 'refused';
  }
  return 'allowed';
}

function safeUrl(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

/** One frame-ancestors source expression against the embedding page's origin. */
function sourceMatches(source: string, page: URL, embedder: URL | null, sameOrigin: boolean): boolean {
  const s = source.toLowerCase();
  if (s === "'none'") return false;
  if (s === "'self'") return sameOrigin;
  if (!embedder) return false;
  if (s === '*') return embedder.protocol === 'http:' || embedder.protocol === 'https:';
  if (/^[a-z][a-z0-9+.-]*:$/.test(s)) return embedder.protocol === s || (s === 'http:' && embedder.protocol === 'https:');
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*\.)?([a-z0-9.-]+|\*)(?::(\d+|\*))?(?:\/.*)?$/.exec(s);
  if (!m) return false;
  const [, scheme, wildcard, host, port] = m;
  if (scheme && scheme + ':' !== embedder.protocol && !(scheme === 'http' && embedder.protocol === 'https:')) return false;
  if (!scheme && embedder.protocol !== page.protocol && !(page.protocol === 'http:' && embedder.protocol === 'https:')) return false;
  const hostOk =
    host === '*' || (wildcard ? embedder.hostname.endsWith(`.${host}`) : embedder.hostname === host);
  if (!hostOk) return false;
  const defaultPort = embedder.protocol === 'https:' ? '443' : '80';
  const embedderPort = embedder.port || defaultPort;
  if (port === '*') return true;
  return (port ?? (scheme === 'https' ? '443' : scheme === 'http' ? '80' : defaultPort)) === embedderPort;
}

export interface FrameCheckOptions {
  /** @default 4000 */
  timeoutMs?: number;
  /** @default 5 */
  maxRedirects?: number;
  fetch?: typeof fetch;
}

export type FrameCheck = { framing: Framing; detail: string };

/**
 * Asks the site (GET, no cookies, redirects followed by hand so each hop is an http(s) address) and
 * reads only its headers; the body is never read. Any failure is `unknown`: the page is then shown
 * in a frame with a plain "open in a new tab" beside it.
 */
export async function checkFraming(url: string, embedderOrigin: string | null, options: FrameCheckOptions = {}): Promise<FrameCheck> {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 4000;
  const maxRedirects = options.maxRedirects ?? 5;
  let current = url;
  try {
    for (let hop = 0; hop <= maxRedirects; hop++) {
      const res = await doFetch(current, {
        method: 'GET',
        redirect: 'manual',
        headers: { accept: 'text/html,*/*;q=0.5', 'user-agent': 'JoinUs-FrameCheck/1' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      void res.body?.cancel().catch(() => {});
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, current);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') return { framing: 'unknown', detail: 'redirects elsewhere' };
        current = next.href;
        continue;
      }
      const framing = framingFromHeaders(
        { xFrameOptions: res.headers.get('x-frame-options'), contentSecurityPolicy: res.headers.get('content-security-policy') },
        current,
        embedderOrigin,
      );
      return { framing, detail: `HTTP ${res.status}` };
    }
    return { framing: 'unknown', detail: 'too many redirects' };
  } catch (err) {
    return { framing: 'unknown', detail: err instanceof Error ? err.name : 'unreachable' };
  }
}
