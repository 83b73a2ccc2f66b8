import type { Metadata } from 'next';
import { CollabView } from './CollabView';

export const metadata: Metadata = { title: 'Session' };

export default async function SessionPage({ params }: { params: Promise<{ sessionId: string }> }) {
  const { sessionId } = await params;
  return <CollabView sessionId={sessionId} />;
}
