/**
 * C4 shared forms: the form schema (forms are data), the masking a typist's browser applies, and the
 * form state in the shared document (validated when read, converging under concurrent edits).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { builtInForms } from '../../features/forms/catalog';
import { endForm, formsOf, formValuesOf, openForm, readForms, readValues, recordDelivery, resultLine, setFieldValue, shareForm } from '../../features/forms/doc';
import { fieldProblem, isCompleteCardNumber, luhnValid, maskValue } from '../../features/forms/mask';
import { catalogSchema, fieldSchema, formSchema, mergeCatalog, type FieldDefinition } from '../../features/forms/schema';

const agent = { participantId: 'agent-1', name: 'Dana', role: 'agent' as const };
const customer = { participantId: 'cust-1', name: 'Iris', role: 'customer' as const };
const payment = builtInForms.find((f) => f.id === 'payment-details')!;
const card = payment.fields.find((f) => f.id === 'card')!;

function sync(a: Y.Doc, b: Y.Doc) {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

describe('[C4] forms are data', () => {
  it('the built-in catalog has Contact details, Address change and Payment details, and is valid', () => {
    expect(builtInForms.map((f) => f.title)).toEqual(['Contact details', 'Address change', 'Payment details']);
    expect(catalogSchema.safeParse(builtInForms).success).toBe(true);
    expect(card).toMatchObject({ label: 'Card number', editableBy: ['customer'], masked: { showLast: 4 } });
  });

  it('fills in defaults: a plain text field anyone but guests may type', () => {
    expect(fieldSchema.parse({ id: 'note', label: 'Note' })).toEqual({
      id: 'note',
      label: 'Note',
      type: 'text',
      required: false,
      maxLength: 200,
      editableBy: ['agent', 'customer'],
    });
  });

  it.each([
    [{ id: 'x', title: 'X', fields: [] }, />=1 items/],
    [{ id: 'x', title: 'X', fields: [{ id: 'a', label: 'A' }, { id: 'a', label: 'B' }] }, /field ids must be unique/],
    [{ id: 'x', title: 'X', fields: [{ id: 'a', label: 'A', masked: {}, editableBy: ['customer', 'agent'] }] }, /exactly one role/],
    [{ id: 'x', title: 'X', fields: [{ id: 'A b', label: 'A' }] }, /field ids/],
    [{ id: 'x', title: 'X', fields: [{ id: 'a', label: 'A' }], submitTo: 'javascript:alert(1)' }, /http/],
    [{ id: 'x', title: 'X', fields: [{ id: 'a', label: 'A', type: 'password' }] }, /invalid/i],
  ])('refuses a bad definition (%#) with a reason', (form, message) => {
    const r = formSchema.safeParse(form);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.message).join(' ')).toMatch(message);
  });

  it("an operator's form replaces the built-in of the same id and adds new ones", () => {
    const mine = formSchema.parse({ id: 'payment-details', title: 'Payment details', fields: [{ id: 'a', label: 'A' }], submitTo: 'https://pay.example/x' });
    const extra = formSchema.parse({ id: 'warranty', title: 'Warranty claim', fields: [{ id: 'serial', label: 'Serial number' }] });
    const merged = mergeCatalog(builtInForms, [mine, extra]);
    expect(merged.map((f) => f.id)).toEqual(['contact-details', 'address-change', 'payment-details', 'warranty']);
    expect(merged[2]!.submitTo).toBe('https://pay.example/x');
  });
});

describe('[C4] masking in the typist’s browser', () => {
  it('a complete card number, once left, shows its last four digits and nothing else', () => {
    expect(maskValue(card, '5555 5555 5555 4444', true)).toBe('•••• •••• •••• 4444');
    expect(maskValue(card, '5555555555554444', true)).toBe('•••• •••• •••• 4444');
    expect(maskValue(card, '4111-1111-1111-1111', true)).toBe('•••• •••• •••• 1111');
  });

  it('while typed, or incomplete, not one digit is shown', () => {
    expect(maskValue(card, '5555 5555 5555 4444', false)).toBe('•••• •••• •••• ••••');
    expect(maskValue(card, '5555 5555 5555 444', true)).toBe('•••• •••• •••• •••');
    expect(maskValue(card, '5555 5555 5555 4445', true)).toBe('•••• •••• •••• ••••'); // fails Luhn
    expect(maskValue(card, '', true)).toBe('');
  });

  it('no prefix of a number typed key by key ever reveals more than the final last four', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 12, maxLength: 18 }), (digits) => {
        // Make it Luhn-valid with a check digit.
        const body = digits.join('');
        const check = [...Array(10).keys()].find((d) => luhnValid(body + d))!;
        const number = body + check;
        const last4 = number.slice(-4);
        for (let i = 1; i <= number.length; i++) {
          const masked = maskValue(card, number.slice(0, i), false);
          expect(masked.replace(/[• ]/g, '')).toBe('');
        }
        const settled = maskValue(card, number, true);
        expect(settled.replace(/[• ]/g, '')).toBe(last4);
      }),
    );
  });

  it('other masked fields show their end only when it is at most a third of the value', () => {
    const pin: FieldDefinition = fieldSchema.parse({ id: 'acct', label: 'Account', editableBy: ['customer'], masked: { showLast: 2 } });
    expect(maskValue(pin, 'abcdef', true)).toBe('••••ef');
    expect(maskValue(pin, 'abcde', true)).toBe('•••••');
    const hidden: FieldDefinition = fieldSchema.parse({ id: 'secret', label: 'Secret', editableBy: ['customer'], masked: {} });
    expect(maskValue(hidden, 'hunter2', true)).toBe('•••••••');
  });

  it('checks values: Luhn, e-mail, expiry, required', () => {
    expect(luhnValid('5555555555554444')).toBe(true);
    expect(luhnValid('5555555555554445')).toBe(false);
    expect(isCompleteCardNumber('5555 5555 5555 4444')).toBe(true);
    expect(isCompleteCardNumber('5555 5555')).toBe(false);
    expect(fieldProblem(card, '1234')).toMatch(/not a valid card number/);
    expect(fieldProblem(card, '')).toMatch(/required/);
    const expiry = payment.fields.find((f) => f.id === 'expiry')!;
    expect(fieldProblem(expiry, '12/29')).toBeNull();
    expect(fieldProblem(expiry, '13/29')).toMatch(/MM\/YY/);
    const email = builtInForms[0]!.fields.find((f) => f.id === 'email')!;
    expect(fieldProblem(email, 'iris@example.com')).toBeNull();
    expect(fieldProblem(email, 'iris@')).toMatch(/e-mail/);
  });
});

describe('[C4] forms in the shared document', () => {
  it('share, type, submit: the result holds what the document held (masked), the values go, late joiners see it', () => {
    const a = new Y.Doc();
    shareForm(a, agent, payment, 1, 'form-1');
    setFieldValue(a, 'form-1', 'cardholder', customer, 'IRIS', null, 2);
    setFieldValue(a, 'form-1', 'card', customer, maskValue(card, '5555 5555 5555 4444', true), null, 3);
    expect(openForm(readForms(a))?.instanceId).toBe('form-1');
    expect(readValues(a, 'form-1').get('card')?.value).toBe('•••• •••• •••• 4444');

    endForm(a, 'form-1', agent, 'submitted', 4, payment);
    const late = new Y.Doc();
    sync(a, late);
    const [f] = readForms(late);
    expect(f).toMatchObject({ state: 'submitted', endedByName: 'Dana' });
    expect(resultLine(f!.result!)).toBe('Name on card: IRIS; Card number: •••• •••• •••• 4444; Expiry (MM/YY): (empty)');
    expect(readValues(late, 'form-1').size).toBe(0);
    expect(openForm(readForms(late))).toBeNull();
    recordDelivery(late, 'form-1', { state: 'sent', at: 5, detail: 'HTTP 200' });
    sync(a, late);
    expect(readForms(a)[0]!.delivery).toEqual({ state: 'sent', at: 5, detail: 'HTTP 200' });
  });

  it('sharing another form closes the open one; only one is open', () => {
    const d = new Y.Doc();
    shareForm(d, agent, builtInForms[0]!, 1, 'one');
    shareForm(d, agent, payment, 2, 'two');
    const forms = readForms(d);
    expect(forms.map((f) => [f.instanceId, f.state])).toEqual([
      ['one', 'closed'],
      ['two', 'open'],
    ]);
  });

  it('drops what a hostile peer writes: malformed instances and values', () => {
    const d = new Y.Doc();
    formsOf(d).set('bad', { formId: 'x', title: 'X', state: 'open' });
    formsOf(d).set('huge', { formId: 'x', title: 'X', sharedById: 'p', sharedByName: 'M', at: 1e300, state: 'open' });
    formValuesOf(d).set('good/a', { value: 'x'.repeat(5000), byId: 'p', byName: 'M', role: 'guest', at: 1, problem: null });
    formValuesOf(d).set('good/b', 42);
    expect(readForms(d)).toEqual([]);
    expect(readValues(d, 'good').size).toBe(0);
  });

  it('concurrent typing in different fields by several documents converges; in one field the last writer wins everywhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('cardholder', 'expiry'), fc.string({ maxLength: 10 })), { minLength: 1, maxLength: 20 }),
        (edits) => {
          const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
          shareForm(docs[0]!, agent, payment, 1, 'f');
          sync(docs[0]!, docs[1]!);
          sync(docs[0]!, docs[2]!);
          edits.forEach(([who, field, value], i) => setFieldValue(docs[who]!, 'f', field, who === 0 ? agent : customer, value, null, i));
          sync(docs[0]!, docs[1]!);
          sync(docs[1]!, docs[2]!);
          sync(docs[0]!, docs[1]!);
          const seen = docs.map((d) => JSON.stringify([...readValues(d, 'f')].sort()));
          expect(seen[1]).toBe(seen[0]);
          expect(seen[2]).toBe(seen[0]);
        },
      ),
    );
  });
});
