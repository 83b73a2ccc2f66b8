/**
 * C4 over real sockets: every admitted participant gets the form catalog with its attach answer,
 * from the server, so where a form's result goes is never taken from another peer.
 */
import { describe, expect, it } from 'vitest';
import { builtInForms } from '../../features/forms/catalog';
import { formSchema } from '../../features/forms/schema';
import { startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';

describe('[C4] the form catalog', () => {
  it('[C4] comes with every attach answer: agent, customer and joined party, the built-in forms by default', async () => {
    const h = await startSignaling();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'guest-forms' });
    for (const party of [s.agent, s.customer, guest]) expect(party.attach.forms).toEqual(builtInForms);
  });

  it("[C4] is the operator's when configured, endpoint included", async () => {
    const mine = formSchema.parse({
      id: 'payment-details',
      title: 'Payment details',
      fields: [{ id: 'card', label: 'Card number', type: 'card-number', editableBy: ['customer'], masked: { showLast: 4 } }],
      submitTo: 'https://pay.example.com/results',
    });
    const h = await startSignaling({ forms: [mine] });
    const s = await openSession(h);
    expect(s.customer.attach.forms).toEqual([mine]);
  });
});
