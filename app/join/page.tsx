import { LocalCopySweeper } from '../_components/LocalCopySweeper';
import type { Metadata } from 'next';
import { JoinForm } from './JoinForm';

export const metadata: Metadata = { title: 'Join a session' };

export default function JoinPage() {
  return (
    <>
      <LocalCopySweeper />
      <JoinForm />
    </>
  );
}
