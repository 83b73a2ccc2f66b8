import { LocalCopySweeper } from '../_components/LocalCopySweeper';
import type { Metadata } from 'next';
import { HelpForm } from './HelpForm';

export const metadata: Metadata = { title: 'Get help' };

export default function HelpPage() {
  return (
    <>
      <LocalCopySweeper />
      <HelpForm />
    </>
  );
}
