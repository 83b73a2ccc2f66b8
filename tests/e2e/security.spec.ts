/**
 * The web surface (docs/threat-model.md): security headers on every page, scripts only with the
 * response's nonce, and hostile text shown as text in every place a person's words appear.
 */
import {
  alertWith,
  expect,
  expectEveryoneSees,
  joinWithHandle,
  openJoinUs,
  participants,
  reserveHandle,
  say,
  signInAgent,
  startSession,
  test,
  transcript,
  uid,
} from './support/app';
import { formField, openPushPage, pushedPage, sharedForm, shareForm, typeAndPush } from './support/collab';

test('pages carry a CSP with a fresh nonce, no framing, nosniff, no referrer, and a permissions policy', async ({ open, request }) => {
  const page = await open('visitor');
  const nonces = new Set<string>();
  for (const path of ['/', '/agent', '/help', '/join', '/session/not-a-session']) {
    const response = (await page.goto(path))!;
    const h = response.headers();
    const csp = h['content-security-policy'] ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce, path).toBeTruthy();
    nonces.add(nonce!);
    expect(csp, path).toContain("frame-ancestors 'none'");
    expect(csp, path).not.toContain('unsafe-eval');
    expect(h['x-frame-options'], path).toBe('DENY');
    expect(h['x-content-type-options'], path).toBe('nosniff');
    expect(h['referrer-policy'], path).toBe('no-referrer');
    expect(h['permissions-policy'], path).toContain('microphone=(self)');
    // Every script the page was served with carries this response's nonce (Next.js puts it there).
    // Chunks the page loads later (the socket, the session view) are added by those scripts, trusted
    // through 'strict-dynamic', and have no nonce of their own: the served HTML is what is checked.
    const html = await response.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => /\snonce="([^"]*)"/.exec(m[0])?.[1] ?? '');
    expect(scripts.length, path).toBeGreaterThan(0);
    expect(new Set(scripts), path).toEqual(new Set([nonce]));
  }
  expect(nonces.size).toBe(5);
  // Static files get the fixed headers too.
  const script = await page.locator('script[src]').first().getAttribute('src');
  const asset = await request.get(new URL(script!, page.url()).href);
  expect(asset.headers()['x-content-type-options']).toBe('nosniff');
});

test('markup with an inline script handler, if it ever reached a page, would not run', async ({ open }) => {
  const page = await open('visitor', { provokesCsp: true });
  await page.goto('/join');
  // What a bug that wrote someone's text into the page as HTML would do: the CSP refuses the handler.
  const outcome = await page.evaluate(async () => {
    const w = window as unknown as { injected?: boolean };
    const violation = new Promise<string>((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), { once: true });
    });
    const div = document.createElement('div');
    div.innerHTML = '<img src="data:," onload="window.injected = true" onerror="window.injected = true">';
    document.body.appendChild(div);
    const directive = await violation;
    return { ran: w.injected === true, directive };
  });
  expect(outcome).toEqual({ ran: false, directive: 'script-src-attr' });
});

test('names, messages and form values with markup and scripts appear as text everywhere', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent');
  const customer = await open('customer');
  const guest = await open('guest');
  const customerName = `<img src=x onerror="window.pwned=1">${tag}`;
  const guestName = `<script>window.pwned=2</script>`;
  const message = `<b onmouseover="window.pwned=3">bold?</b> & <a href="javascript:window.pwned=4">link</a>`;
  await signInAgent(agent, 'abe');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `markup-${tag}`);
  await joinWithHandle(guest, guestName, handle);
  await say(customer, message);
  await expectEveryoneSees([agent, customer, guest], [message]);
  await shareForm(agent, 'Contact details');
  const field = formField(customer, 'Full name');
  await field.fill(`"><svg onload="window.pwned=5">`);
  await expect(formField(agent, 'Full name')).toHaveValue(`"><svg onload="window.pwned=5">`);

  // A pushed address with markup in it is refused outright; with the markup percent-encoded it is
  // an address, and shown as one (this server's pages refuse framing: a link to open in a new tab).
  await openPushPage(agent);
  const origin = new URL(agent.url()).origin;
  await typeAndPush(agent, `${origin}/?q="><img src=x onerror="window.pwned=6">`);
  await expect(alertWith(agent, 'characters addresses cannot have')).toBeVisible();
  await typeAndPush(agent, `${origin}/?q=%22%3E%3Cimg%20src%3Dx%20onerror%3D%22window.pwned%3D6%22%3E`);
  await expect(pushedPage(guest).getByRole('link', { name: /^Open 127\.0\.0\.1:\d+ in a new tab$/ })).toHaveAttribute('href', /\?q=%22%3E%3Cimg/);

  for (const page of [agent, customer, guest]) {
    expect(await pushedPage(page).locator('img').count()).toBe(0);
    await expect(participants(page)).toContainText(customerName);
    await expect(participants(page)).toContainText(guestName);
    await expect(transcript(page)).toContainText(message);
    // As text: no element was made from it, and nothing ran.
    expect(await transcript(page).locator('b, img, script, svg, a[href^="javascript"]').count()).toBe(0);
    expect(await participants(page).locator('img, script').count()).toBe(0);
    expect(await sharedForm(page).locator('svg[onload]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  }
});
