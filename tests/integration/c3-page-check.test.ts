/**
 * C3 over real sockets: the agent's `page:check` asks a real web server (ours, on port 0) whether a
 * page may be framed. Only the session's agent may ask, only about http(s) addresses, and the server
 * never answers with anything but the verdict.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { expectOk, expectRefused, onTeardown, startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';

async function startSite() {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/deny' });
      return res.end();
    }
    const headers: Record<string, string> = { 'content-type': 'text/html' };
    if (req.url === '/deny') headers['x-frame-options'] = 'DENY';
    if (req.url === '/csp') headers['content-security-policy'] = "default-src 'self'; frame-ancestors 'none'";
    res.writeHead(200, headers);
    res.end('<h1>secret page content</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  onTeardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('[C3] the framing check', () => {
  it('[C3] the agent learns whether a page may be framed, following redirects; nothing else comes back', async () => {
    const site = await startSite();
    const h = await startSignaling({ clock: 'system' });
    const s = await openSession(h);
    const check = async (path: string) => expectOk(await s.agent.client.request('page:check', { sessionId: s.sessionId, url: site.origin + path }));
    expect(await check('/open')).toEqual({ framing: 'allowed' });
    expect(await check('/deny')).toEqual({ framing: 'refused' });
    expect(await check('/csp')).toEqual({ framing: 'refused' });
    expect(await check('/moved')).toEqual({ framing: 'refused' });
    expect(site.seen.map((r) => r.url)).toEqual(['/open', '/deny', '/csp', '/moved', '/deny']);
    // No cookies or credentials of anyone's go to the site.
    for (const r of site.seen) expect(r.headers.cookie).toBeUndefined();
    // Unreachable: unknown, not an error.
    const closed = `http://127.0.0.1:1/`;
    expect(expectOk(await s.agent.client.request('page:check', { sessionId: s.sessionId, url: closed }))).toEqual({ framing: 'unknown' });
  });

  it('[C3] only the agent asks, only about http(s) addresses; with the check off no request leaves the server', async () => {
    const site = await startSite();
    const h = await startSignaling({ clock: 'system' });
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'guest-asks' });
    for (const c of [s.customer.client, guest.client]) {
      expectRefused(await c.request('page:check', { sessionId: s.sessionId, url: `${site.origin}/open` }), 'forbidden');
    }
    const stranger = await h.client();
    expectRefused(await stranger.request('page:check', { sessionId: s.sessionId, url: `${site.origin}/open` }), 'forbidden');
    for (const url of ['javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,x', 'gopher://127.0.0.1/']) {
      const e = expectRefused(await s.agent.client.request('page:check', { sessionId: s.sessionId, url }), 'invalid_request');
      expect(e.message).toMatch(/http/);
    }
    expect(site.seen).toEqual([]);

    const off = await startSignaling({ clock: 'system', frameCheck: false });
    const s2 = await openSession(off);
    expect(expectOk(await s2.agent.client.request('page:check', { sessionId: s2.sessionId, url: `${site.origin}/deny` }))).toEqual({ framing: 'unknown' });
    expect(site.seen).toEqual([]);
  });
});
