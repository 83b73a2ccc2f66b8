import type { Metadata, Viewport } from 'next';
import Link from 'next/link';
import { connection } from 'next/server';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'Join Us', template: '%s · Join Us' },
  description: 'Live help with chat and web collaboration, and a simple way to bring a third party in.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // Rendered per request: every page carries a fresh CSP nonce on its scripts (proxy.ts).
  await connection();
  // JOINUS_SIGNALING_URL (validated at start-up): where the page's signaling connection goes.
  const signaling = process.env.JOINUS_SIGNALING_URL;
  return (
    <html lang="en">
      <head>{signaling ? <meta name="joinus-signaling" content={signaling} /> : null}</head>
      <body>
        <header className="topbar">
          <Link href="/" className="brand" aria-label="Home">
            <span className="brand-mark" aria-hidden="true">JU</span>
            <span>Join Us</span>
          </Link>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
