/**
 * Browser-test tools for the web-collaboration features (issue 6), from the outside of the product:
 *
 *  - a small web site of the test's own (`startSite`): pages that allow framing and pages that refuse
 *    it (X-Frame-Options / CSP frame-ancestors), as the sites an agent pushes would;
 *  - `recordReceived` / `receivedText`: every byte a page receives over its WebRTC data channels,
 *    decoded as text, so a test can check what another peer was sent, not only what it shows;
 *  - steps and locators for page push.
 */
import { createServer, type Server } from 'node:http';
import type { Page } from '@playwright/test';
import { expect } from './app';
import { watchChannels } from './network';

export interface Site {
  origin: string;
  url(path: string): string;
  close(): Promise<void>;
}

/** `/open/<title>` may be framed; `/deny/<title>` and `/csp/<title>` refuse it. */
export async function startSite(): Promise<Site> {
  const server: Server = createServer((req, res) => {
    const [, kind, title = 'Page'] = (req.url ?? '/').split('/');
    const heading = decodeURIComponent(title);
    const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
    if (kind === 'deny') headers['x-frame-options'] = 'DENY';
    if (kind === 'csp') headers['content-security-policy'] = "frame-ancestors 'none'";
    res.writeHead(kind === 'open' || kind === 'deny' || kind === 'csp' ? 200 : 404, headers);
    res.end(`<!doctype html><title>${heading}</title><h1>${heading}</h1><p>A page of the test's own site.</p>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Keeps, as text, everything the context's pages receive on any data channel. Before goto. */
export const recordReceived = watchChannels;

/** Everything the page received on data channels so far, as one string. */
export async function receivedText(page: Page): Promise<string> {
  return page.evaluate(() => (window.__channels?.received ?? []).join('\n'));
}

// ------------------------------------------------------------------------------------------ page push

export const pushedPage = (page: Page) => page.getByRole('region', { name: 'Pushed page' });
export const pushedFrame = (page: Page) => pushedPage(page).frameLocator('iframe');
export const followBox = (page: Page) => page.getByRole('checkbox', { name: 'Follow pushed pages' });

export async function openPushPage(agent: Page): Promise<void> {
  await agent.getByRole('combobox', { name: 'Options' }).selectOption({ label: 'Push page' });
  await expect(agent.getByRole('textbox', { name: 'Web address' })).toBeVisible();
}

/** Types an address and presses Push (controls open); the caller checks what came of it. */
export async function typeAndPush(agent: Page, address: string): Promise<void> {
  await agent.getByRole('textbox', { name: 'Web address' }).fill(address);
  await agent.getByRole('button', { name: 'Push', exact: true }).click();
}

/** The page shows `heading` inside the pushed-page frame. */
export async function expectFramed(page: Page, heading: string): Promise<void> {
  await expect(pushedFrame(page).getByRole('heading', { name: heading })).toBeVisible();
}

/** The page shows the "open in a new tab" fallback for `url`, and no frame. */
export async function expectRefusedFraming(page: Page, url: string): Promise<void> {
  const region = pushedPage(page);
  await expect(region.getByText('This site does not allow being shown inside another page.')).toBeVisible();
  await expect(region.getByRole('link', { name: `Open ${new URL(url).host} in a new tab` })).toHaveAttribute('href', url);
  await expect(region.locator('iframe')).toHaveCount(0);
}

// ------------------------------------------------------------------------------------------ forms

export const sharedForm = (page: Page) => page.getByRole('form', { name: 'Shared form' });
export const formsRegion = (page: Page) => page.getByRole('region', { name: 'Forms' });
export const formField = (page: Page, label: string) => sharedForm(page).getByRole('textbox', { name: label, exact: true });

export async function shareForm(agent: Page, title: string): Promise<void> {
  await agent.getByRole('combobox', { name: 'Options' }).selectOption({ label: 'Share form' });
  await agent.getByRole('combobox', { name: 'Form', exact: true }).selectOption({ label: title });
  await agent.getByRole('button', { name: 'Share', exact: true }).click();
  await expect(sharedForm(agent)).toContainText(title);
}

/** Everything a page shows, input values included (innerText leaves those out). */
export async function visibleContent(page: Page): Promise<string> {
  return page.evaluate(() => {
    const values = [...document.querySelectorAll('input, textarea')].map((e) => (e as HTMLInputElement).value);
    return `${document.body.innerText}\n${values.join('\n')}`;
  });
}

export interface Endpoint {
  url: string;
  /** Bodies posted so far, with the Origin header they came with. */
  posts: { origin: string | undefined; body: unknown }[];
  /** Answer the next N posts with 503. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/** The operator's own system, receiving form results (CORS allows any origin, as it must here). */
export async function startEndpoint(): Promise<Endpoint> {
  const posts: Endpoint['posts'] = [];
  let failures = 0;
  const server = createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(503, cors);
        return res.end();
      }
      posts.push({ origin: req.headers.origin, body: JSON.parse(raw) as unknown });
      res.writeHead(200, { ...cors, 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/form-results`,
    posts,
    failNext: (n) => {
      failures = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ------------------------------------------------------------------------------------------ drawing

export const drawingRegion = (page: Page) => page.getByRole('region', { name: 'Shared drawing' });
export const strokes = (page: Page) => drawingRegion(page).getByRole('img', { name: /^Drawing: / }).locator('path');
export const drawSurface = (page: Page) => drawingRegion(page).getByTestId('drawing-surface');

/** Moves the mouse along points given as fractions of the surface (0–1), pressed or not. */
export async function trace(page: Page, points: [number, number][], pressed: boolean): Promise<void> {
  const box = await drawSurface(page).boundingBox();
  if (!box) throw new Error('the drawing surface is not on screen');
  const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(points[0]!));
  if (pressed) await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 5 });
  if (pressed) await page.mouse.up();
}

/** Each stroke's bounding box as fractions of the surface (from the SVG, in surface units). */
export async function strokeBoxes(page: Page): Promise<{ x0: number; y0: number; x1: number; y1: number; colour: string }[]> {
  return strokes(page).evaluateAll((paths) => {
    const svg = (paths[0] as SVGPathElement | undefined)?.ownerSVGElement;
    const vb = svg?.viewBox.baseVal;
    return paths.map((p) => {
      const b = (p as SVGPathElement).getBBox();
      const w = vb?.width ?? 1;
      const h = vb?.height ?? 1;
      return { x0: b.x / w, y0: b.y / h, x1: (b.x + b.width) / w, y1: (b.y + b.height) / h, colour: p.getAttribute('stroke') ?? '' };
    });
  });
}
