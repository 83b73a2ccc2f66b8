/**
 * C4: shared forms in the session document.
 *
 *  - `forms` (Y.Map instanceId → instance): which form was shared, by whom, and what became of it
 *    (open, submitted with its masked result, closed); at most one is open at a time.
 *  - `form-values` (Y.Map `${instanceId}/${fieldId}` → value): each field's value as the document
 *    holds it (a masked field's masked form only), who typed it last and whether the typist's browser
 *    found it complete. One key per field: concurrent typing in two fields never conflicts; in one
 *    field the last writer wins.
 *
 * Everything read back is validated: the document comes from other peers.
 */
import * as Y from 'yjs';
import { z } from 'zod';
import { Limits } from '../../lib/protocol';
import { roleSchema, timestamp, type Author } from '../participants/doc';
import type { FormDefinition } from './schema';

const instanceSchema = z.object({
  formId: z.string().max(48),
  title: z.string().max(60),
  sharedById: z.string().max(64),
  sharedByName: z.string().max(Limits.nameChars),
  at: timestamp,
  state: z.enum(['open', 'submitted', 'closed']),
  /** Set with `submitted`: label → value as the document held it (masked fields masked). */
  result: z.array(z.object({ fieldId: z.string().max(32), label: z.string().max(60), value: z.string().max(2000) })).max(30).optional(),
  endedAt: timestamp.optional(),
  endedByName: z.string().max(Limits.nameChars).optional(),
  /** The customer's browser posted the clear result to the form's endpoint (or could not). */
  delivery: z
    .object({ state: z.enum(['sent', 'failed']), at: timestamp, detail: z.string().max(200) })
    .optional(),
});
export type FormInstance = z.infer<typeof instanceSchema> & { instanceId: string };

const valueSchema = z.object({
  value: z.string().max(2000),
  byId: z.string().max(64),
  byName: z.string().max(Limits.nameChars),
  role: roleSchema,
  at: timestamp,
  /** What the typist's browser found wrong with the value, if anything (it alone sees a masked one). */
  problem: z.string().max(200).nullable(),
});
export type FieldValue = z.infer<typeof valueSchema>;

export const formsOf = (doc: Y.Doc) => doc.getMap<unknown>('forms');
export const formValuesOf = (doc: Y.Doc) => doc.getMap<unknown>('form-values');
const valueKey = (instanceId: string, fieldId: string) => `${instanceId}/${fieldId}`;

export function readForms(doc: Y.Doc): FormInstance[] {
  const out: FormInstance[] = [];
  formsOf(doc).forEach((raw, instanceId) => {
    const parsed = instanceSchema.safeParse(raw);
    if (parsed.success && instanceId.length <= 64) out.push({ instanceId, ...parsed.data });
  });
  return out.sort((a, b) => a.at - b.at || (a.instanceId < b.instanceId ? -1 : 1));
}

/** The open form, if any (the latest, should two agents' tabs have shared at once). */
export function openForm(forms: FormInstance[]): FormInstance | null {
  return forms.filter((f) => f.state === 'open').at(-1) ?? null;
}

/** Every field value in the document, by `${instanceId}/${fieldId}` (only open forms keep values). */
export function readAllValues(doc: Y.Doc): Map<string, FieldValue> {
  const out = new Map<string, FieldValue>();
  formValuesOf(doc).forEach((raw, key) => {
    const parsed = valueSchema.safeParse(raw);
    if (parsed.success && key.length <= 100) out.set(key, parsed.data);
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

export function readValues(doc: Y.Doc, instanceId: string): Map<string, FieldValue> {
  return valuesOf(readAllValues(doc), instanceId);
}

/** The agent shares a form: any form still open is closed first (one at a time). */
export function shareForm(doc: Y.Doc, by: Author, form: FormDefinition, now: number, instanceId: string): void {
  doc.transact(() => {
    for (const f of readForms(doc)) if (f.state === 'open') endForm(doc, f.instanceId, by, 'closed', now);
    formsOf(doc).set(instanceId, {
      formId: form.id,
      title: form.title,
      sharedById: by.participantId,
      sharedByName: by.name,
      at: now,
      state: 'open',
    });
  });
}

export function setFieldValue(doc: Y.Doc, instanceId: string, fieldId: string, by: Author, value: string, problem: string | null, now: number): void {
  formValuesOf(doc).set(valueKey(instanceId, fieldId), {
    value,
    byId: by.participantId,
    byName: by.name,
    role: by.role,
    at: now,
    problem,
  });
}

function patch(doc: Y.Doc, instanceId: string, change: Partial<z.infer<typeof instanceSchema>>): boolean {
  const raw = formsOf(doc).get(instanceId);
  const parsed = instanceSchema.safeParse(raw);
  if (!parsed.success) return false;
  formsOf(doc).set(instanceId, { ...parsed.data, ...change });
  return true;
}

/**
 * Submitted (with the result as the document holds it: masked fields masked) or closed. The values
 * of a closed form are deleted; a submitted form's live in its result.
 */
export function endForm(
  doc: Y.Doc,
  instanceId: string,
  by: Author,
  state: 'submitted' | 'closed',
  now: number,
  form?: FormDefinition,
): void {
  doc.transact(() => {
    const values = readValues(doc, instanceId);
    const result =
      state === 'submitted' && form
        ? form.fields.map((f) => ({ fieldId: f.id, label: f.label, value: values.get(f.id)?.value ?? '' }))
        : undefined;
    patch(doc, instanceId, { state, endedAt: now, endedByName: by.name, ...(result ? { result } : {}) });
    for (const key of [...formValuesOf(doc).keys()]) if (key.startsWith(`${instanceId}/`)) formValuesOf(doc).delete(key);
  });
}

export function recordDelivery(doc: Y.Doc, instanceId: string, delivery: { state: 'sent' | 'failed'; at: number; detail: string }): void {
  patch(doc, instanceId, { delivery });
}

/** One line for the transcript: "Name on card: Iris; Card number: •••• •••• •••• 4444". */
export function resultLine(result: NonNullable<FormInstance['result']>): string {
  return result.map((r) => `${r.label}: ${r.value === '' ? '(empty)' : r.value}`).join('; ');
}
