/**
 * Screenshots for a person to look at (not a visual-regression test): a full page at desktop
 * (1280×860) and phone (390×844) width into test-results/screens/.
 */
import { mkdir } from 'node:fs/promises';
import type { Page } from '@playwright/test';

export const screensDir = 'test-results/screens';
const widths = [
  { label: 'desktop', size: { width: 1280, height: 860 } },
  { label: 'phone', size: { width: 390, height: 844 } },
] as const;

export async function shoot(page: Page, name: string): Promise<void> {
  await mkdir(screensDir, { recursive: true });
  for (const { label, size } of widths) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${screensDir}/${name}-${label}.png`, fullPage: true, animations: 'disabled', caret: 'hide' });
  }
  await page.setViewportSize(widths[0].size);
}

/** A phone-width screenshot of one part of the session view (its tab chosen first). */
export async function shootPhoneTab(page: Page, tab: 'Chat' | 'Form' | 'Page' | 'Drawing' | 'People', name: string): Promise<void> {
  await mkdir(screensDir, { recursive: true });
  await page.setViewportSize(widths[1].size);
  await page.getByRole('tab', { name: new RegExp(`^${tab}`) }).click();
  await page.screenshot({ path: `${screensDir}/${name}-phone.png`, fullPage: true, animations: 'disabled', caret: 'hide' });
  await page.getByRole('tab', { name: /^Chat/ }).click();
  await page.setViewportSize(widths[0].size);
}
