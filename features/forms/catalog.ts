/** C4: the built-in forms. Operators add theirs with JOINUS_FORMS_FILE (same shape, validated at start). */
import { catalogSchema, type FormDefinition } from './schema';

export const builtInForms: FormDefinition[] = catalogSchema.parse([
  {
    id: 'contact-details',
    title: 'Contact details',
    description: 'How we can reach you.',
    fields: [
      { id: 'name', label: 'Full name', required: true, maxLength: 80 },
      { id: 'email', label: 'Email', type: 'email', maxLength: 120 },
      { id: 'phone', label: 'Phone', type: 'tel', maxLength: 40 },
    ],
  },
  {
    id: 'address-change',
    title: 'Address change',
    description: 'Your new address.',
    fields: [
      { id: 'street', label: 'Street and number', required: true, maxLength: 120 },
      { id: 'postcode', label: 'Postal code', required: true, maxLength: 20 },
      { id: 'city', label: 'City', required: true, maxLength: 80 },
      { id: 'country', label: 'Country', maxLength: 80 },
      { id: 'from', label: 'Moving date', maxLength: 20, hint: 'For example 2027-01-31' },
    ],
  },
  {
    id: 'payment-details',
    title: 'Payment details',
    description: 'Only you can type the card number; everyone else sees at most its last four digits.',
    fields: [
      { id: 'cardholder', label: 'Name on card', required: true, maxLength: 80, editableBy: ['customer', 'agent'] },
      {
        id: 'card',
        label: 'Card number',
        type: 'card-number',
        required: true,
        maxLength: 23,
        editableBy: ['customer'],
        masked: { showLast: 4 },
      },
      { id: 'expiry', label: 'Expiry (MM/YY)', type: 'expiry', required: true, maxLength: 5, editableBy: ['customer'] },
    ],
  },
]);
