/**
 * The pages' security headers, one pure function so it can be tested line by line; proxy.ts applies
 * them to every page (the CSP needs a fresh nonce per response). The headers that never change
 * (nosniff, referrer and permissions policies) are next.config.js's, on every response.
 */

export interface PageHeaderOptions {
  /** Fresh for every response; Next.js puts it on its own scripts. */
  nonce: string;
  /** `next dev` needs eval for React's debugging aids; production never gets it. */
  dev: boolean;
  /** The request path: only the help page (and the customer's session it leads to) may be framed. */
  path: string;
  /** JOINUS_HELP_EMBED_ORIGINS: the sites allowed to show the help page, and its session, in a frame. */
  helpEmbedOrigins: readonly string[];
  /** Origins the pages may send requests to besides their own (operators' form endpoints). */
  connectOrigins: readonly string[];
  /** JOINUS_SIGNALING_URL: the signaling nodes' origin when not the pages' own (null: same origin). */
  signalingOrigin?: string | null;
}

/** An http(s) origin and its WebSocket twin (ws/wss), both named: not every browser infers one from the other. */
export function withWebSocketOrigin(origin: string): string[] {
  return [origin, origin.replace(/^http/, 'ws')];
}

export function isHelpPage(path: string): boolean {
  return path === '/help' || path.startsWith('/help/');
}

/** An embedded help page leads its customer to the session view in the same frame, reloads included. */
export function isSessionPage(path: string): boolean {
  return path.startsWith('/session/');
}

export function pageSecurityHeaders(o: PageHeaderOptions): Record<string, string> {
  const embeddable = (isHelpPage(o.path) || isSessionPage(o.path)) && o.helpEmbedOrigins.length > 0;
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${o.nonce}' 'strict-dynamic'${o.dev ? " 'unsafe-eval'" : ''}`,
    // Inline style attributes (positions of pointers, colours of strokes): styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    // Signaling is same-origin ('self' covers its WebSocket in every current browser) unless
    // JOINUS_SIGNALING_URL points the pages at signaling nodes elsewhere.
    ['connect-src', "'self'", ...(o.signalingOrigin ? withWebSocketOrigin(o.signalingOrigin) : []), ...o.connectOrigins].join(' '),
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    // C3: a pushed page is any http(s) site, shown in a sandboxed frame.
    'frame-src http: https:',
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${embeddable ? ["'self'", ...o.helpEmbedOrigins].join(' ') : "'none'"}`,
  ].join('; ');
  return {
    'Content-Security-Policy': csp,
    // For browsers that predate frame-ancestors; left out where the help page may be embedded.
    ...(embeddable ? {} : { 'X-Frame-Options': 'DENY' }),
  };
}
