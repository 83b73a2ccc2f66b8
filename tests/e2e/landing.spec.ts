/** The landing page leads to the three entry points. */
import { expect, test } from './support/app';

const links = [
  { name: 'Agent console', path: '/agent', lands: { role: 'button', name: 'Sign in' } },
  { name: 'Get help', path: '/help', lands: { role: 'button', name: 'Start session' } },
  { name: 'Join Us', path: '/join', lands: { role: 'button', name: 'Join Us' } },
] as const;

for (const link of links) {
  test(`the landing page links to ${link.name}`, async ({ open }) => {
    const page = await open('visitor');
    await page.goto('/');
    await expect(page).toHaveTitle(/Join Us/);
    await page.getByRole('link', { name: link.name }).click();
    await expect(page).toHaveURL(new RegExp(`${link.path}$`));
    await expect(page.getByRole(link.lands.role, { name: link.lands.name })).toBeVisible();
    await page.getByRole('link', { name: 'Home' }).click();
    await expect(page).toHaveURL(/\/$/);
  });
}

test('a session address opened without access says so instead of spinning', async ({ open }) => {
  const page = await open('stranger');
  await page.goto('/session/0123456789abcdef');
  await expect(page.getByRole('alert').filter({ hasText: 'This browser tab has no access to that session.' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Go to Join Us' })).toBeVisible();
});
