/**
 * C4: shared forms in the session document (decision 0010: every record signed).
 *
 *  - `form-events` (Y.Array, append-only: peers refuse updates that delete from it): what happened
 *    to each shared form, as signed events. `shared`, `submitted` and `closed` count only when signed
 *    by a participant whose directory role is agent; `delivery` (the customer's browser posted the
 *    clear result to the form's endpoint, or could not) only when signed by the customer. The events
 *    are folded into one state per form whatever their order in the array: a copy of an old event
 *    inserted again anywhere (a replay) changes nothing. At most one form is open: sharing another
 *    closes the one open before it.
 *  - `form-values` (Y.Map `${instanceId}/${fieldId}` → value): each field's value as the document
 *    holds it (a masked field's masked form only), signed by its typist, with whether the typist's
 *    browser found it complete. One key per field: concurrent typing in two fields never conflicts;
 *    in one field the last writer wins. Anyone may type, nobody under another's name.
 *
 * Everything read back is validated and its signature checked: the document comes from other peers.
 * Names and roles come from the server's directory, never from a record.
 */
import * as Y from 'yjs';
import * as z from '../../lib/zod';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import { newId } from '../../lib/collab/ids';
import type { Role } from '../../lib/protocol';
import { timestamp } from '../participants/doc';
import { resultPoster, type FormDefinition } from './schema';

const resultSchema = z
  .array(z.object({ fieldId: z.string().max(32), label: z.string().max(60), value: z.string().max(2000) }))
  .max(30);
export type FormResult = z.infer<typeof resultSchema>;

const eventBase = {
  id: z.string().min(1).max(64),
  instanceId: z.string().min(1).max(64),
  at: timestamp,
  by: z.string().max(64),
  sig: z.string().max(100),
};

const eventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('shared'), ...eventBase, formId: z.string().max(48), title: z.string().max(60) }),
  /** The result as the document held it: masked fields masked. */
  z.object({ kind: z.literal('submitted'), ...eventBase, result: resultSchema }),
  z.object({ kind: z.literal('closed'), ...eventBase }),
  z.object({ kind: z.literal('delivery'), ...eventBase, state: z.enum(['sent', 'failed']), detail: z.string().max(200) }),
]);
type FormEvent = z.infer<typeof eventSchema>;
/** An event before it is signed (each kind with its own fields). */
type UnsignedEvent = FormEvent extends infer E ? (E extends unknown ? Omit<E, 'by' | 'sig'> : never) : never;
type SharedEvent = Extract<FormEvent, { kind: 'shared' }>;
type EndEvent = Extract<FormEvent, { kind: 'submitted' | 'closed' }>;
type DeliveryEvent = Extract<FormEvent, { kind: 'delivery' }>;

/** Who may write each kind of event (the role in the server's directory). */
const writerRole: Record<FormEvent['kind'], Role> = { shared: 'agent', submitted: 'agent', closed: 'agent', delivery: resultPoster };

/** What is signed: every field but the writer and signature, as a tuple (no key order to agree on). */
function signedEvent(e: FormEvent | UnsignedEvent): readonly unknown[] {
  switch (e.kind) {
    case 'shared':
      return ['form-shared', e.id, e.instanceId, e.formId, e.title, e.at];
    case 'submitted':
      return ['form-submitted', e.id, e.instanceId, e.result.map((r) => [r.fieldId, r.label, r.value]), e.at];
    case 'closed':
      return ['form-closed', e.id, e.instanceId, e.at];
    case 'delivery':
      return ['form-delivery', e.id, e.instanceId, e.state, e.at, e.detail];
  }
}

export interface FormInstance {
  instanceId: string;
  formId: string;
  title: string;
  sharedById: string;
  sharedByName: string;
  at: number;
  state: 'open' | 'submitted' | 'closed';
  /** Set with `submitted`: label → value as the document held it (masked fields masked). */
  result?: FormResult;
  endedAt?: number;
  endedByName?: string;
  /** The customer's browser posted the clear result to the form's endpoint (or could not). */
  delivery?: { state: 'sent' | 'failed'; at: number; detail: string };
}

const valueSchema = z.object({
  value: z.string().max(2000),
  by: z.string().max(64),
  at: timestamp,
  /** What the typist's browser found wrong with the value, if anything (it alone sees a masked one). */
  problem: z.string().max(200).nullable(),
  sig: z.string().max(100),
});
type StoredValue = z.infer<typeof valueSchema>;

/** A field's value as shown: its typist's name and role from the directory. */
export interface FieldValue {
  value: string;
  byId: string;
  byName: string;
  role: Role;
  at: number;
  problem: string | null;
}

export const formEventsOf = (doc: Y.Doc) => doc.getArray<unknown>('form-events');
export const formValuesOf = (doc: Y.Doc) => doc.getMap<unknown>('form-values');
const valueKey = (instanceId: string, fieldId: string) => `${instanceId}/${fieldId}`;

const signedValue = (instanceId: string, fieldId: string, v: Pick<StoredValue, 'value' | 'at' | 'problem'>) =>
  ['value', instanceId, fieldId, v.value, v.at, v.problem] as const;

/** Earlier first: by time, then id (the same answer on every peer, whatever the array's order). */
const earlier = (a: { at: number; id: string }, b: { at: number; id: string }) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The events whose writer may write them and whose signature verifies (pending checks left out). */
function verifiedEvents(doc: Y.Doc, auth: Authorship): { event: FormEvent; name: string }[] {
  const out: { event: FormEvent; name: string }[] = [];
  for (const raw of formEventsOf(doc).toArray()) {
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) continue;
    const e = parsed.data;
    const writer = auth.who(e.by);
    if (writer?.role !== writerRole[e.kind]) continue;
    if (auth.check(e.by, e.sig, () => signedEvent(e), raw as object) !== true) continue;
    out.push({ event: e, name: writer.name });
  }
  return out;
}

/**
 * Every form shared, oldest first, as its verified events make it: open until the first end event
 * (by time, then id): a submission, a closing, or the agent sharing the next form. Its delivery is
 * the customer's latest delivery record, once submitted.
 */
export function readForms(doc: Y.Doc, auth: Authorship): FormInstance[] {
  const shares = new Map<string, { event: SharedEvent; name: string }>();
  const ends = new Map<string, { event: EndEvent; name: string }>();
  const deliveries = new Map<string, DeliveryEvent>();
  for (const v of verifiedEvents(doc, auth)) {
    const e = v.event;
    switch (e.kind) {
      case 'shared': {
        const before = shares.get(e.instanceId);
        if (!before || earlier(e, before.event) < 0) shares.set(e.instanceId, { event: e, name: v.name });
        break;
      }
      case 'submitted':
      case 'closed': {
        const before = ends.get(e.instanceId);
        if (!before || earlier(e, before.event) < 0) ends.set(e.instanceId, { event: e, name: v.name });
        break;
      }
      case 'delivery': {
        const before = deliveries.get(e.instanceId);
        if (!before || earlier(e, before) > 0) deliveries.set(e.instanceId, e);
        break;
      }
    }
  }
  const ordered = [...shares.values()].sort(
    (a, b) => a.event.at - b.event.at || (a.event.instanceId < b.event.instanceId ? -1 : a.event.instanceId > b.event.instanceId ? 1 : 0),
  );
  return ordered.map(({ event: s, name }, i): FormInstance => {
    const instance: FormInstance = {
      instanceId: s.instanceId,
      formId: s.formId,
      title: s.title,
      sharedById: s.by,
      sharedByName: name,
      at: s.at,
      state: 'open',
    };
    const explicit = ends.get(s.instanceId);
    const next = ordered[i + 1];
    // The next form shared closes this one, unless it ended before.
    const end: { at: number; name: string; event?: EndEvent } | null =
      explicit && (!next || earlier(explicit.event, next.event) <= 0)
        ? { at: explicit.event.at, name: explicit.name, event: explicit.event }
        : next
          ? { at: next.event.at, name: next.name }
          : null;
    if (!end) return instance;
    instance.endedAt = end.at;
    instance.endedByName = end.name;
    if (end.event?.kind === 'submitted') {
      instance.state = 'submitted';
      instance.result = end.event.result;
      const d = deliveries.get(s.instanceId);
      if (d) instance.delivery = { state: d.state, at: d.at, detail: d.detail };
    } else {
      instance.state = 'closed';
    }
    return instance;
  });
}

/** The open form, if any (the latest, should two agents' tabs have shared at once). */
export function openForm(forms: FormInstance[]): FormInstance | null {
  return forms.filter((f) => f.state === 'open').at(-1) ?? null;
}

/**
 * Every field value in the document whose signature verifies against its typist's keys, by
 * `${instanceId}/${fieldId}`. A record is signed with its key, so one moved under another field or
 * form does not verify either.
 */
export function readAllValues(doc: Y.Doc, auth: Authorship): Map<string, FieldValue> {
  const out = new Map<string, FieldValue>();
  formValuesOf(doc).forEach((raw, key) => {
    if (key.length > 100) return;
    const slash = key.lastIndexOf('/');
    if (slash <= 0) return;
    const parsed = valueSchema.safeParse(raw);
    if (!parsed.success) return;
    const v = parsed.data;
    const typist = auth.who(v.by);
    if (!typist) return;
    const instanceId = key.slice(0, slash);
    const fieldId = key.slice(slash + 1);
    if (auth.check(v.by, v.sig, () => signedValue(instanceId, fieldId, v), raw as object) !== true) return;
    out.set(key, { value: v.value, byId: v.by, byName: typist.name, role: typist.role, at: v.at, problem: v.problem });
  });
  return out;
}

/** One form's values by field id. */
export function valuesOf(all: Map<string, FieldValue>, instanceId: string): Map<string, FieldValue> {
  const out = new Map<string, FieldValue>();
  const prefix = `${instanceId}/`;
  for (const [key, v] of all) if (key.startsWith(prefix)) out.set(key.slice(prefix.length), v);
  return out;
}

export function readValues(doc: Y.Doc, auth: Authorship, instanceId: string): Map<string, FieldValue> {
  return valuesOf(readAllValues(doc, auth), instanceId);
}

/** Signs and appends an event; the values of the forms in `ended` go with it (a form that ended keeps none). */
async function appendEvent(doc: Y.Doc, signer: Signer, unsigned: UnsignedEvent, ended: string[] = []): Promise<void> {
  const event = { ...unsigned, by: signer.participantId, sig: await signer.sign(signedEvent(unsigned)) };
  doc.transact(() => {
    formEventsOf(doc).push([event]);
    const values = formValuesOf(doc);
    const prefixes = ended.map((id) => `${id}/`);
    for (const key of [...values.keys()]) if (prefixes.some((p) => key.startsWith(p))) values.delete(key);
  });
}

/**
 * The agent shares a form. The form open before it is closed by it (one at a time), and its values
 * go; the new form comes after every form its writer sees, even should this tab's clock lag.
 */
export async function shareForm(doc: Y.Doc, signer: Signer, auth: Authorship, form: FormDefinition, now: number, instanceId: string): Promise<void> {
  const forms = await auth.readSettled(() => readForms(doc, auth));
  const at = Math.max(now, ...forms.map((f) => f.at + 1));
  const open = forms.filter((f) => f.state === 'open').map((f) => f.instanceId);
  await appendEvent(doc, signer, { kind: 'shared', id: newId(), instanceId, formId: form.id, title: form.title, at }, open);
}

/** Signs one field's value (as the document holds it: a masked field masked) and writes it. */
export async function setFieldValue(
  doc: Y.Doc,
  signer: Signer,
  instanceId: string,
  fieldId: string,
  value: string,
  problem: string | null,
  now: number,
): Promise<void> {
  const record = await signValue(signer, instanceId, fieldId, value, problem, now);
  formValuesOf(doc).set(valueKey(instanceId, fieldId), record);
}

async function signValue(signer: Signer, instanceId: string, fieldId: string, value: string, problem: string | null, now: number): Promise<StoredValue> {
  const unsigned = { value, at: now, problem };
  return { ...unsigned, by: signer.participantId, sig: await signer.sign(signedValue(instanceId, fieldId, unsigned)) };
}

/**
 * A typist's writes of field values, in the order they were typed: signing is asynchronous and may
 * finish out of order, and a keystroke's value written late must never replace a later one's. A
 * write finished after a later one of the same field was written is dropped.
 */
export class FieldWriter {
  private readonly issued = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private readonly latest = new Map<string, Promise<boolean>>();

  constructor(
    private readonly doc: Y.Doc,
    private readonly signer: () => Signer | null,
  ) {}

  /** Resolves true once written, false when superseded by a later write (or it could not sign). */
  write(instanceId: string, fieldId: string, value: string, problem: string | null, now: number): Promise<boolean> {
    const signer = this.signer();
    if (!signer) return Promise.resolve(false);
    const key = valueKey(instanceId, fieldId);
    const n = (this.issued.get(key) ?? 0) + 1;
    this.issued.set(key, n);
    const done = signValue(signer, instanceId, fieldId, value, problem, now).then(
      (record) => {
        if ((this.written.get(key) ?? 0) > n) return false;
        this.written.set(key, n);
        formValuesOf(this.doc).set(key, record);
        return true;
      },
      () => false,
    );
    this.latest.set(key, done);
    return done;
  }

  /** Resolves once every write of the field issued so far is written or dropped. */
  async idle(instanceId: string, fieldId: string): Promise<void> {
    await this.latest.get(valueKey(instanceId, fieldId));
  }
}

/**
 * The agent submits (with the result as the document holds it, masked fields masked, from the values
 * whose signatures verify, typed by a role that may type the field) or closes a form; its values are deleted (a submitted form's live on in
 * its result). Resolves with the result submitted.
 */
export async function endForm(
  doc: Y.Doc,
  signer: Signer,
  auth: Authorship,
  instanceId: string,
  state: 'submitted' | 'closed',
  now: number,
  form?: FormDefinition,
): Promise<FormResult | undefined> {
  if (state === 'closed') {
    await appendEvent(doc, signer, { kind: 'closed', id: newId(), instanceId, at: now }, [instanceId]);
    return undefined;
  }
  const values = await auth.readSettled(() => readValues(doc, auth, instanceId));
  // A value counts only when typed by a role that may type the field (a modified page can write any).
  const valueOf = (f: FormDefinition['fields'][number]) => {
    const v = values.get(f.id);
    return v && f.editableBy.includes(v.role) ? v.value : '';
  };
  const result = (form?.fields ?? []).map((f) => ({ fieldId: f.id, label: f.label, value: valueOf(f) }));
  await appendEvent(doc, signer, { kind: 'submitted', id: newId(), instanceId, result, at: now }, [instanceId]);
  return result;
}

/** The customer's browser records whether it delivered a submitted result to the form's endpoint. */
export async function recordDelivery(
  doc: Y.Doc,
  signer: Signer,
  instanceId: string,
  delivery: { state: 'sent' | 'failed'; at: number; detail: string },
): Promise<void> {
  await appendEvent(doc, signer, { kind: 'delivery', id: newId(), instanceId, state: delivery.state, at: delivery.at, detail: delivery.detail.slice(0, 200) });
}

/** One line for the transcript: "Name on card: Iris; Card number: •••• •••• •••• 4444". */
export function resultLine(result: FormResult): string {
  return result.map((r) => `${r.label}: ${r.value === '' ? '(empty)' : r.value}`).join('; ');
}
