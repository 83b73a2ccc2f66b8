/**
 * C3 page push in real Chromium, with agent, customer and two joined parties in their own contexts:
 * what the agent pushes, everyone sees; addresses that are not http(s) are refused and reach nobody;
 * a site that refuses framing gets "open in a new tab"; the customer stops following and resumes; a
 * late joiner sees the current page; the agent pushes a page again from the history.
 */
import {
  alertWith,
  expect,
  expectEveryoneSees,
  joinWithHandle,
  openJoinUs,
  reserveHandle,
  signInAgent,
  startSession,
  statusWith,
  test,
  transcript,
  uid,
} from './support/app';
import {
  expectFramed,
  expectRefusedFraming,
  followBox,
  openPushPage,
  pushedPage,
  receivedText,
  recordReceived,
  startSite,
  typeAndPush,
  type Site,
} from './support/collab';
import { shoot, shootPhoneTab } from './support/screens';

let site: Site;
test.beforeAll(async () => {
  site = await startSite();
});
test.afterAll(async () => {
  await site?.close();
});

test('[C3] the agent pushes pages: everyone sees them, hostile addresses reach nobody, the customer can stop following, a late joiner sees the current page', async ({ open }) => {
  const tag = uid();
  const customerName = `Iris ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');
  const nina = await open('nina');
  for (const p of [agent, customer, nina]) await recordReceived(p.context());

  await signInAgent(agent, 'vic');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(nina, 'Nina', await reserveHandle(agent, `nina-${tag}`));
  await expectEveryoneSees([agent, customer, nina], ['Nina joined the session with a handle']);
  for (const p of [customer, nina]) await expect(pushedPage(p)).toContainText('No page pushed yet');

  // Anything but an http(s) web address is refused with a reason, and written nowhere.
  await openPushPage(agent);
  const hostile: [string, RegExp][] = [
    ['javascript:alert(document.cookie)', /not "javascript:" addresses/],
    ['data:text/html,<script>alert(1)</script>', /not "data:" addresses/],
    ['file:///etc/passwd', /not "file:" addresses/],
    ['this is not an address', /not a web address/],
  ];
  for (const [typed, message] of hostile) {
    await typeAndPush(agent, typed);
    await expect(alertWith(agent, message)).toBeVisible();
  }
  await shoot(agent, '20-agent-push-refused');

  const guide = site.url(`/open/Router%20guide%20${tag}`);
  await typeAndPush(agent, guide);
  await expect(statusWith(agent, `Pushed ${guide} to everyone in the session.`)).toBeVisible();
  for (const p of [agent, customer, nina]) await expectFramed(p, `Router guide ${tag}`);
  await expectEveryoneSees([agent, customer, nina], [`vic pushed a page: ${guide}`]);
  for (const p of [agent, customer, nina]) {
    const text = await transcript(p).innerText();
    expect(text).not.toMatch(/javascript:|data:text|file:\/\//);
  }
  // Not in what the others received over the peer network either (the push of `guide` is).
  for (const p of [customer, nina]) {
    const received = await receivedText(p);
    expect(received).toContain(guide);
    expect(received).not.toMatch(/javascript:alert|data:text\/html|file:\/\/\/etc/);
  }
  await shoot(customer, '21-customer-page-pushed');

  // The customer stops following; the agent pushes a site that refuses framing.
  await followBox(customer).uncheck();
  const refusing = site.url(`/deny/Billing%20${tag}`);
  await typeAndPush(agent, refusing);
  await expectRefusedFraming(nina, refusing);
  await expectRefusedFraming(agent, refusing);
  await expect(statusWith(customer, `vic pushed a newer page: ${refusing}`)).toBeVisible();
  await expectFramed(customer, `Router guide ${tag}`);
  await shoot(nina, '22-guest-page-refuses-framing');
  await shootPhoneTab(nina, 'Page', '22b-guest-page-tab');
  await shoot(customer, '23-customer-not-following');

  // A late joiner lands on the current page, with the pushes in its transcript.
  const omar = await open('omar');
  await openJoinUs(agent);
  await joinWithHandle(omar, 'Omar', await reserveHandle(agent, `omar-${tag}`));
  await expectRefusedFraming(omar, refusing);
  await expectEveryoneSees([omar], [`vic pushed a page: ${guide}`, `vic pushed a page: ${refusing}`]);

  // The customer follows again and is on the current page.
  await followBox(customer).check();
  await expectRefusedFraming(customer, refusing);

  // CSP frame-ancestors refuses framing too.
  const csp = site.url(`/csp/Plans%20${tag}`);
  await openPushPage(agent);
  await typeAndPush(agent, csp);
  for (const p of [customer, nina, omar]) await expectRefusedFraming(p, csp);

  // The history: each page once, latest first; pushing one again shows it to everyone.
  const history = agent.getByRole('list', { name: 'Pushed pages' }).getByRole('listitem');
  await expect(history).toHaveCount(3);
  await expect(history.first()).toContainText(csp);
  await agent.getByRole('button', { name: `Push ${guide} again`, exact: true }).click();
  for (const p of [customer, nina, omar]) await expectFramed(p, `Router guide ${tag}`);
  await expect(history.first()).toContainText(guide);
  await expect(history).toHaveCount(3);
  await shoot(agent, '24-agent-push-history');
});

test('[C3] on a phone, the Page tab marks a newly pushed page until it is looked at', async ({ open }) => {
  const tag = uid();
  const customerName = `Ivo ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer', { viewport: { width: 390, height: 844 } });
  await signInAgent(agent, 'vic');
  await startSession(agent, customer, customerName);
  const pageTab = customer.getByRole('tab', { name: /^Page/ });
  await expect(customer.getByRole('tab', { name: 'Chat' })).toHaveAttribute('aria-selected', 'true');
  await expect(pageTab).toHaveAccessibleName('Page');

  const guide = site.url(`/open/Phone%20guide%20${tag}`);
  await openPushPage(agent);
  await typeAndPush(agent, guide);
  await expect(pageTab).toHaveAccessibleName('Page (new)');
  // The pushed page is in the Page tab, not shown while Chat is.
  await expect(pushedPage(customer)).toBeHidden();
  await pageTab.click();
  await expectFramed(customer, `Phone guide ${tag}`);
  await expect(pageTab).toHaveAccessibleName('Page');
  await shoot(customer, '24b-customer-phone-page-tab');
});
