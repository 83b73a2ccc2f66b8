/**
 * Next.js proxy: a fresh CSP nonce and the page security headers on every page response
 * (lib/security/headers.ts; docs/threat-model.md, "The web surface").
 */
import { NextResponse, type NextRequest } from 'next/server';
import { pageSecurityHeaders } from './lib/security/headers';

const list = (raw: string | undefined) => (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export function proxy(request: NextRequest) {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const nonce = btoa(String.fromCharCode(...bytes));
  const headers = pageSecurityHeaders({
    nonce,
    dev: process.env.NODE_ENV === 'development',
    path: request.nextUrl.pathname,
    // Validated at start-up by signaling/config.ts (loadPagesConfig: server.ts, or instrumentation.ts
    // under `next start`), which also puts the form endpoints here.
    helpEmbedOrigins: list(process.env.JOINUS_HELP_EMBED_ORIGINS),
    connectOrigins: list(process.env.JOINUS_FORM_ENDPOINT_ORIGINS),
    signalingOrigin: process.env.JOINUS_SIGNALING_URL || null,
  });
  // Next.js reads the nonce from the request's CSP and puts it on the scripts it renders.
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('Content-Security-Policy', headers['Content-Security-Policy']!);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  matcher: [
    {
      // Pages only: static files get the fixed headers from next.config.js.
      source: '/((?!_next/static|_next/image|favicon.ico|icon.svg|socket.io).*)',
      missing: [
        { type: 'header', key: 'next-router-prefetch' },
        { type: 'header', key: 'purpose', value: 'prefetch' },
      ],
    },
  ],
};
