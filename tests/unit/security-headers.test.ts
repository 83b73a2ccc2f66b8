/** The web surface (threat model): each page's CSP and framing rules, and the fixed headers. */
import { describe, expect, it } from 'vitest';
import { isHelpPage, pageSecurityHeaders } from '../../lib/security/headers';
import type { NextConfig } from 'next';

// next.config.js is plain JavaScript (Next loads it without a compiler): imported by address.
const configModule = new URL('../../next.config.js', import.meta.url).href;
const { default: nextConfig, staticSecurityHeaders } = (await import(configModule)) as {
  default: NextConfig;
  staticSecurityHeaders: Record<string, string>;
};

const base = { nonce: 'bm9uY2U=', dev: false, path: '/join', helpEmbedOrigins: [], connectOrigins: [] };
const directives = (csp: string) => new Map(csp.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)]));

describe('page security headers', () => {
  it('scripts only with the nonce, no eval in production, no plugins, no base or form hijack', () => {
    const csp = directives(pageSecurityHeaders(base)['Content-Security-Policy']!);
    expect(csp.get('script-src')).toEqual(["'self'", "'nonce-bm9uY2U='", "'strict-dynamic'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(csp.get('form-action')).toEqual(["'self'"]);
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('frame-src')).toEqual(['http:', 'https:']);
    expect(pageSecurityHeaders({ ...base, dev: true })['Content-Security-Policy']).toContain("'unsafe-eval'");
    expect(pageSecurityHeaders(base)['Content-Security-Policy']).not.toContain('unsafe-eval');
  });

  it('no page may be framed, except the help page and its session by the sites JOINUS_HELP_EMBED_ORIGINS lists', () => {
    for (const path of ['/', '/agent', '/join', '/session/abc', '/help']) {
      const h = pageSecurityHeaders({ ...base, path });
      expect(directives(h['Content-Security-Policy']!).get('frame-ancestors'), path).toEqual(["'none'"]);
      expect(h['X-Frame-Options'], path).toBe('DENY');
    }
    const help = pageSecurityHeaders({ ...base, path: '/help', helpEmbedOrigins: ['https://www.example.com'] });
    expect(directives(help['Content-Security-Policy']!).get('frame-ancestors')).toEqual(["'self'", 'https://www.example.com']);
    expect(help['X-Frame-Options']).toBeUndefined();
    // The help page leads the customer to its session in the same frame: reloads there work too.
    const session = pageSecurityHeaders({ ...base, path: '/session/abc', helpEmbedOrigins: ['https://www.example.com'] });
    expect(directives(session['Content-Security-Policy']!).get('frame-ancestors')).toEqual(["'self'", 'https://www.example.com']);
    const join = pageSecurityHeaders({ ...base, path: '/join', helpEmbedOrigins: ['https://www.example.com'] });
    expect(directives(join['Content-Security-Policy']!).get('frame-ancestors')).toEqual(["'none'"]);
    expect(isHelpPage('/helpdesk')).toBe(false);
  });

  it("requests go to the app's own origin and the operators' form endpoints only", () => {
    const csp = directives(pageSecurityHeaders({ ...base, connectOrigins: ['https://crm.example.com'] })['Content-Security-Policy']!);
    expect(csp.get('connect-src')).toEqual(["'self'", 'https://crm.example.com']);
  });

  it('every response: nosniff, no referrer, microphone and screen capture for the app only', async () => {
    expect(staticSecurityHeaders['X-Content-Type-Options']).toBe('nosniff');
    expect(staticSecurityHeaders['Referrer-Policy']).toBe('no-referrer');
    expect(staticSecurityHeaders['Permissions-Policy']).toMatch(/microphone=\(self\), display-capture=\(self\), camera=\(\)/);
    const rules = await nextConfig.headers!();
    expect(rules).toEqual([{ source: '/:path*', headers: Object.entries(staticSecurityHeaders).map(([key, value]) => ({ key, value })) }]);
  });
});
