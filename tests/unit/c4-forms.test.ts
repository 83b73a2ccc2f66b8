/**
 * C4 shared forms: the form schema (forms are data), the masking a typist's browser applies, and the
 * form state in the shared document (validated when read, converging under concurrent edits).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { builtInForms } from '../../features/forms/catalog';
import {
  endForm,
  FieldWriter,
  formEventsOf,
  formValuesOf,
  openForm,
  readForms,
  readValues,
  recordDelivery,
  resultLine,
  setFieldValue,
  shareForm,
} from '../../features/forms/doc';
import { fieldProblem, isCompleteCardNumber, luhnValid, maskValue } from '../../features/forms/mask';
import { catalogSchema, fieldSchema, formSchema, mergeCatalog, type FieldDefinition } from '../../features/forms/schema';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import { makeParties, settledRead, type TestParty } from '../support/authors';

const { parties, viewer } = await makeParties('session-c4', [
  { participantId: 'agent-1', name: 'Dana', role: 'agent' },
  { participantId: 'cust-1', name: 'Iris', role: 'customer' },
  { participantId: 'guest-1', name: 'Mallory', role: 'guest' },
]);
const [agent, customer, guest] = parties as [TestParty, TestParty, TestParty];
/** What a participant with the session's directory sees once every signature is checked. */
const forms = (d: Y.Doc, auth: Authorship = viewer()) => settledRead(auth, () => readForms(d, auth));
const values = (d: Y.Doc, instanceId: string, auth: Authorship = viewer()) => settledRead(auth, () => readValues(d, auth, instanceId));
const share = (d: Y.Doc, by: TestParty, form: typeof payment, at: number, instanceId: string) => shareForm(d, by.signer, by.auth, form, at, instanceId);
const type = (d: Y.Doc, by: TestParty, instanceId: string, fieldId: string, value: string, at: number) => setFieldValue(d, by.signer, instanceId, fieldId, value, null, at);
const events = (d: Y.Doc) => formEventsOf(d).toArray() as Record<string, unknown>[];
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
  it('share, type, submit: the result holds what the document held (masked), the values go, late joiners see it', async () => {
    const a = new Y.Doc();
    await share(a, agent, payment, 1, 'form-1');
    await type(a, customer, 'form-1', 'cardholder', 'IRIS', 2);
    await type(a, customer, 'form-1', 'card', maskValue(card, '5555 5555 5555 4444', true), 3);
    expect(openForm(await forms(a))?.instanceId).toBe('form-1');
    expect((await values(a, 'form-1')).get('card')).toMatchObject({ value: '•••• •••• •••• 4444', byId: 'cust-1', byName: 'Iris', role: 'customer' });

    const result = await endForm(a, agent.signer, agent.auth, 'form-1', 'submitted', 4, payment);
    expect(resultLine(result!)).toBe('Name on card: IRIS; Card number: •••• •••• •••• 4444; Expiry (MM/YY): (empty)');
    const late = new Y.Doc();
    sync(a, late);
    const [f] = await forms(late);
    expect(f).toMatchObject({ state: 'submitted', endedByName: 'Dana', endedAt: 4, sharedByName: 'Dana', title: 'Payment details' });
    expect(resultLine(f!.result!)).toBe('Name on card: IRIS; Card number: •••• •••• •••• 4444; Expiry (MM/YY): (empty)');
    expect((await values(late, 'form-1')).size).toBe(0);
    expect(formValuesOf(late).size).toBe(0);
    expect(openForm(await forms(late))).toBeNull();
    await recordDelivery(late, customer.signer, 'form-1', { state: 'sent', at: 5, detail: 'HTTP 200' });
    sync(a, late);
    expect((await forms(a))[0]!.delivery).toEqual({ state: 'sent', at: 5, detail: 'HTTP 200' });
  });

  it('closing a form deletes its values and records who closed it', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'form-1');
    await type(d, customer, 'form-1', 'cardholder', 'IRIS', 2);
    expect(await endForm(d, agent.signer, agent.auth, 'form-1', 'closed', 3)).toBeUndefined();
    expect(await forms(d)).toMatchObject([{ instanceId: 'form-1', state: 'closed', endedAt: 3, endedByName: 'Dana' }]);
    expect(formValuesOf(d).size).toBe(0);
  });

  it('sharing another form closes the open one; only one is open', async () => {
    const d = new Y.Doc();
    await share(d, agent, builtInForms[0]!, 1, 'one');
    await type(d, customer, 'one', 'name', 'Iris', 1);
    await share(d, agent, payment, 2, 'two');
    const list = await forms(d);
    expect(list.map((f) => [f.instanceId, f.state])).toEqual([
      ['one', 'closed'],
      ['two', 'open'],
    ]);
    expect(list[0]).toMatchObject({ endedAt: 2, endedByName: 'Dana' });
    expect((await values(d, 'one')).size).toBe(0);
  });

  it('a form submitted before the next was shared stays submitted', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'one');
    await endForm(d, agent.signer, agent.auth, 'one', 'submitted', 2, payment);
    await share(d, agent, builtInForms[0]!, 3, 'two');
    expect((await forms(d)).map((f) => [f.instanceId, f.state])).toEqual([
      ['one', 'submitted'],
      ['two', 'open'],
    ]);
  });

  it('the first end wins, whatever order the ends arrive in', async () => {
    const a = new Y.Doc();
    await share(a, agent, payment, 1, 'f');
    const b = new Y.Doc();
    sync(a, b);
    await endForm(b, agent.signer, agent.auth, 'f', 'closed', 5);
    await endForm(a, agent.signer, agent.auth, 'f', 'submitted', 3, payment);
    sync(a, b);
    expect(await forms(a)).toEqual(await forms(b));
    expect((await forms(a))[0]).toMatchObject({ state: 'submitted', endedAt: 3 });
  });

  it('drops what a hostile peer writes: malformed events and values, wrong types, huge numbers, NaN', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'good');
    const shared = events(d)[0]!;
    formEventsOf(d).push([
      { kind: 'shared', formId: 'x', title: 'X' },
      { ...shared, kind: 'nope' },
      { ...shared, instanceId: 'huge', at: 1e300 },
      { ...shared, instanceId: 'nan', at: Number.NaN },
      { ...shared, instanceId: 7 },
      { ...shared, instanceId: '' },
      { ...shared, title: 'x'.repeat(1000) },
      { ...shared, kind: 'submitted', result: 'all of it' },
      { ...shared, kind: 'submitted', result: [{ fieldId: 1 }] },
      { ...shared, kind: 'delivery', state: 'maybe', detail: '' },
      { ...shared, by: { id: 'agent-1' } },
      'garbage',
      null,
      42,
      [shared],
    ] as never[]);
    formValuesOf(d).set('good/a', { value: 'x'.repeat(5000), by: 'cust-1', at: 1, problem: null, sig: 'x'.repeat(86) });
    formValuesOf(d).set('good/b', 42);
    formValuesOf(d).set('good/c', { value: 'v', by: 'cust-1', at: Number.NaN, problem: null, sig: 'x'.repeat(86) });
    formValuesOf(d).set('good/d', { value: 'v', by: 'cust-1', at: 1e300, problem: null, sig: 'x'.repeat(86) });
    formValuesOf(d).set('good/e', null);
    formValuesOf(d).set('noslash', { value: 'v', by: 'cust-1', at: 1, problem: null, sig: 'x'.repeat(86) });
    const list = await forms(d);
    expect(list.map((f) => [f.instanceId, f.state])).toEqual([['good', 'open']]);
    expect((await values(d, 'good')).size).toBe(0);
  });

  it('a share, submit or close signed by the customer or an invited party is ignored', async () => {
    const d = new Y.Doc();
    await share(d, customer, payment, 1, 'by-customer');
    await share(d, guest, payment, 2, 'by-guest');
    expect(await forms(d)).toEqual([]);

    await share(d, agent, payment, 3, 'real');
    await type(d, customer, 'real', 'cardholder', 'IRIS', 4);
    // Writers refuse nothing here: what the hostile page writes is signed, but by the wrong role.
    await endForm(d, customer.signer, customer.auth, 'real', 'submitted', 5, payment);
    await endForm(d, guest.signer, guest.auth, 'real', 'closed', 6);
    await share(d, guest, builtInForms[0]!, 7, 'guest-2');
    const list = await forms(d);
    expect(list.map((f) => [f.instanceId, f.state])).toEqual([['real', 'open']]);
    expect(openForm(list)?.sharedByName).toBe('Dana');
  });

  it('an event under the agent’s id signed by someone else, or changed after signing, is ignored', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'f');
    const real = events(d)[0]!;
    // The customer signs a close and claims the agent wrote it.
    const scratch = new Y.Doc();
    await endForm(scratch, customer.signer, customer.auth, 'f', 'closed', 2);
    formEventsOf(d).push([{ ...events(scratch)[0]!, by: 'agent-1' }]);
    // The agent's share, changed: another instance, another title, another time, a submission.
    formEventsOf(d).push([
      { ...real, instanceId: 'other' },
      { ...real, title: 'Something else' },
      { ...real, at: 0 },
      { ...real, kind: 'closed' },
      { ...real, kind: 'submitted', result: [] },
      { ...real, by: 'cust-1' },
    ]);
    expect(await forms(d)).toMatchObject([{ instanceId: 'f', state: 'open', title: 'Payment details', at: 1 }]);
  });

  it('replaying a share does not reopen a submitted form, nor move the open one', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'first');
    await endForm(d, agent.signer, agent.auth, 'first', 'submitted', 2, payment);
    const before = await forms(d);
    const oldShare = events(d)[0]!;
    formEventsOf(d).push([{ ...oldShare }]);
    formEventsOf(d).insert(0, [{ ...oldShare }]);
    expect(await forms(d)).toEqual(before);
    expect(openForm(await forms(d))).toBeNull();

    await share(d, agent, builtInForms[0]!, 3, 'second');
    const open = await forms(d);
    formEventsOf(d).push([{ ...oldShare }, { ...events(d).find((e) => e.instanceId === 'second')! }]);
    formEventsOf(d).insert(1, [{ ...oldShare }]);
    expect(await forms(d)).toEqual(open);
    expect(openForm(await forms(d))?.instanceId).toBe('second');
  });

  it('only the customer’s signed delivery counts: a guest’s or the agent’s is ignored, a forged one too', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'f');
    await endForm(d, agent.signer, agent.auth, 'f', 'submitted', 2, payment);
    await recordDelivery(d, guest.signer, 'f', { state: 'sent', at: 3, detail: 'HTTP 200' });
    await recordDelivery(d, agent.signer, 'f', { state: 'sent', at: 4, detail: 'HTTP 200' });
    const scratch = new Y.Doc();
    await recordDelivery(scratch, guest.signer, 'f', { state: 'sent', at: 5, detail: 'HTTP 200' });
    formEventsOf(d).push([{ ...events(scratch)[0]!, by: 'cust-1' }]);
    expect((await forms(d))[0]!.delivery).toBeUndefined();

    await recordDelivery(d, customer.signer, 'f', { state: 'failed', at: 6, detail: 'HTTP 500' });
    expect((await forms(d))[0]!.delivery).toEqual({ state: 'failed', at: 6, detail: 'HTTP 500' });
    await recordDelivery(d, customer.signer, 'f', { state: 'sent', at: 7, detail: 'HTTP 200' });
    const failed = events(d).find((e) => e.kind === 'delivery' && e.state === 'failed')!;
    // The latest delivery counts; the old failure replayed changes nothing.
    formEventsOf(d).push([{ ...failed }]);
    expect((await forms(d))[0]!.delivery).toEqual({ state: 'sent', at: 7, detail: 'HTTP 200' });
    // Tampered after signing.
    formEventsOf(d).push([{ ...failed, at: 99 }]);
    expect((await forms(d))[0]!.delivery).toEqual({ state: 'sent', at: 7, detail: 'HTTP 200' });
  });

  it('a value attributed to another participant, or moved to another field, is not shown', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'f');
    // Mallory signs a value and claims the customer typed it.
    await type(d, guest, 'f', 'cardholder', 'MALLORY', 2);
    const raw = formValuesOf(d).get('f/cardholder') as Record<string, unknown>;
    formValuesOf(d).set('f/cardholder', { ...raw, by: 'cust-1' });
    expect((await values(d, 'f')).has('cardholder')).toBe(false);

    // The customer's real value, tampered with or moved under another field or form.
    await type(d, customer, 'f', 'cardholder', 'IRIS', 3);
    const iris = formValuesOf(d).get('f/cardholder') as Record<string, unknown>;
    formValuesOf(d).set('f/expiry', { ...iris });
    formValuesOf(d).set('g/cardholder', { ...iris });
    formValuesOf(d).set('f/card', { ...iris, value: '•••• •••• •••• 1111' });
    const shown = await values(d, 'f');
    expect([...shown.keys()]).toEqual(['cardholder']);
    expect(shown.get('cardholder')).toMatchObject({ value: 'IRIS', byName: 'Iris', role: 'customer' });
    expect((await values(d, 'g')).size).toBe(0);
  });

  it('a value typed by a role that may not type the field stays out of the result', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'f');
    // The card number is the customer's alone; a guest's modified page writes one anyway.
    await type(d, guest, 'f', 'card', '•••• •••• •••• 1111', 2);
    await type(d, customer, 'f', 'cardholder', 'IRIS', 3);
    const result = await endForm(d, agent.signer, agent.auth, 'f', 'submitted', 4, payment);
    expect(result!.find((r) => r.fieldId === 'card')?.value).toBe('');
    expect(result!.find((r) => r.fieldId === 'cardholder')?.value).toBe('IRIS');
  });

  it('a typist’s writes land in the order typed, however late each signature comes', async () => {
    const d = new Y.Doc();
    await share(d, agent, payment, 1, 'f');
    // A signer whose signatures resolve in reverse order of asking.
    const waiting: (() => void)[] = [];
    const slow: Signer = {
      participantId: customer.signer.participantId,
      sign: (payload) =>
        new Promise((resolve) => {
          waiting.push(() => void customer.signer.sign(payload).then(resolve));
        }),
    };
    const writer = new FieldWriter(d, () => slow);
    const writes = ['I', 'IR', 'IRI', 'IRIS'].map((v, i) => writer.write('f', 'cardholder', v, null, 10 + i));
    const idle = writer.idle('f', 'cardholder');
    for (const release of waiting.reverse()) {
      release();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await Promise.all(writes)).toEqual([false, false, false, true]);
    await idle;
    expect((await values(d, 'f')).get('cardholder')?.value).toBe('IRIS');

    // In order, each is written; the last stays.
    const ordered = new FieldWriter(d, () => customer.signer);
    await Promise.all(['J', 'JO'].map((v, i) => ordered.write('f', 'cardholder', v, null, 20 + i)));
    expect((await values(d, 'f')).get('cardholder')?.value).toBe('JO');
    expect(await new FieldWriter(d, () => null).write('f', 'cardholder', 'x', null, 30)).toBe(false);
  });

  it('concurrent typing in different fields by several documents converges; in one field the last writer wins everywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('cardholder', 'expiry'), fc.string({ maxLength: 10 })), { minLength: 1, maxLength: 20 }),
        async (edits) => {
          const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
          await share(docs[0]!, agent, payment, 1, 'f');
          sync(docs[0]!, docs[1]!);
          sync(docs[0]!, docs[2]!);
          for (const [i, [who, field, value]] of edits.entries()) await type(docs[who]!, who === 0 ? agent : customer, 'f', field, value, i);
          sync(docs[0]!, docs[1]!);
          sync(docs[1]!, docs[2]!);
          sync(docs[0]!, docs[1]!);
          const auth = viewer();
          const seen = await Promise.all(docs.map(async (d) => JSON.stringify([...(await values(d, 'f', auth))].sort())));
          expect(seen[1]).toBe(seen[0]);
          expect(seen[2]).toBe(seen[0]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('concurrent shares, ends and replays in several documents converge to one state with at most one open form', async () => {
    const templates = new Y.Doc();
    await share(templates, agent, payment, 1, 'seed');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('share', 'submit', 'close', 'replay'), fc.nat(3), fc.nat(20)), { minLength: 1, maxLength: 10 }),
        async (steps) => {
          const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
          for (const [who, what, k, at] of steps) {
            const d = docs[who]!;
            if (what === 'share') await share(d, agent, payment, at, `i${k}`);
            else if (what === 'submit') await endForm(d, agent.signer, agent.auth, `i${k}`, 'submitted', at, payment);
            else if (what === 'close') await endForm(d, agent.signer, agent.auth, `i${k}`, 'closed', at);
            else {
              const all = events(d);
              if (all.length > 0) formEventsOf(d).insert(at % (all.length + 1), [{ ...all[k % all.length]! }]);
            }
          }
          sync(docs[0]!, docs[1]!);
          sync(docs[1]!, docs[2]!);
          sync(docs[0]!, docs[1]!);
          const auth = viewer();
          const seen = await Promise.all(docs.map((d) => forms(d, auth)));
          expect(seen[1]).toEqual(seen[0]);
          expect(seen[2]).toEqual(seen[0]);
          expect(seen[0]!.filter((f) => f.state === 'open').length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 40 },
    );
  });
});
