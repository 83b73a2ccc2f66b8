'use client';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { z } from 'zod';
import type { SessionConnection, SessionSnapshot } from '../../lib/client/session-connection';
import { newId } from '../../lib/collab/ids';
import { useAwareness } from '../../lib/collab/use-awareness';
import { useDocPart } from '../../lib/collab/use-doc-part';
import type { Author } from '../participants/doc';
import { clearValues } from './clear-values';
import {
  endForm,
  formsOf,
  formValuesOf,
  openForm,
  readAllValues,
  readForms,
  recordDelivery,
  resultLine,
  setFieldValue,
  shareForm,
  valuesOf,
  type FieldValue,
  type FormInstance,
} from './doc';
import { fieldProblem, maskValue } from './mask';
import { resultPoster, type FieldDefinition, type FormDefinition } from './schema';

type Outcome = { ok: true } | { ok: false; message: string };

export interface FormsState {
  catalog: FormDefinition[];
  /** The open form and its definition, if any. */
  open: { instance: FormInstance; definition: FormDefinition } | null;
  /** The latest form that was submitted or closed (its summary stays in view). */
  last: FormInstance | null;
  /** Every submitted form, in order (for the agent's export). */
  submitted: FormInstance[];
  values: Map<string, FieldValue>;
  /** Field id → names of the others typing in it now. */
  typing: Map<string, string[]>;
  canType: (field: FieldDefinition) => boolean;
  /** What this participant's input shows: its own clear value of a masked field, else the document's. */
  shown: (field: FieldDefinition) => string;
  type: (field: FieldDefinition, value: string) => void;
  focus: (field: FieldDefinition) => void;
  blur: (field: FieldDefinition) => void;
  /** Why the agent cannot submit yet, field by field (empty when it can). */
  problems: { fieldId: string; message: string }[];
  share: (formId: string) => Outcome;
  submit: () => Outcome;
  close: () => Outcome;
  /** The customer sends a result again after a failed delivery. */
  resend: (instanceId: string) => void;
  delivering: boolean;
}

const editingSchema = z.object({
  participantId: z.string().max(64),
  name: z.string().max(80),
  formField: z.object({ instanceId: z.string().max(64), fieldId: z.string().max(32) }).nullable().optional(),
});
type Editing = { instanceId: string; fieldId: string; participantId: string; name: string }[];

function projectEditing(states: Map<number, Record<string, unknown>>, self: number): Editing {
  const out: Editing = [];
  for (const [clientId, raw] of states) {
    if (clientId === self) continue;
    const p = editingSchema.safeParse(raw);
    if (p.success && p.data.formField) out.push({ ...p.data.formField, participantId: p.data.participantId, name: p.data.name });
  }
  return out.sort((a, b) => (a.fieldId + a.name < b.fieldId + b.name ? -1 : 1));
}

/** Results this tab is posting now (per connection), so a re-render never posts twice. */
const inFlight = new WeakMap<SessionConnection, Set<string>>();

async function deliver(conn: SessionConnection, me: Author, instance: FormInstance, definition: FormDefinition): Promise<void> {
  const url = definition.submitTo;
  if (!url) return;
  const host = new URL(url).host;
  const values: Record<string, string> = {};
  for (const f of definition.fields) {
    const fromDoc = instance.result?.find((r) => r.fieldId === f.id)?.value ?? '';
    if (f.masked && f.editableBy.includes(me.role)) {
      const clear = clearValues.get(conn, instance.instanceId, f.id);
      if (clear === undefined && fromDoc !== '') {
        recordDelivery(conn.doc, instance.instanceId, { state: 'failed', at: Date.now(), detail: `${f.label} was not typed in this browser tab` });
        conn.note(`The ${definition.title} result could not be sent to ${host}: ${f.label} was typed in another tab or before a reload.`, 'form_submitted');
        return;
      }
      values[f.id] = clear ?? '';
    } else {
      values[f.id] = fromDoc;
    }
  }
  let detail: string;
  let sent = false;
  try {
    const res = await fetch(url, {
      method: 'POST',
      mode: 'cors',
      credentials: 'omit',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        form: definition.id,
        title: definition.title,
        sessionId: conn.sessionId,
        submittedAt: instance.endedAt ?? Date.now(),
        submittedBy: instance.endedByName ?? null,
        sentBy: me.name,
        values,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    sent = res.ok;
    detail = `HTTP ${res.status}`;
  } catch (err) {
    detail = err instanceof Error && err.name === 'TimeoutError' ? 'no answer within 10 s' : 'the address could not be reached';
  }
  recordDelivery(conn.doc, instance.instanceId, { state: sent ? 'sent' : 'failed', at: Date.now(), detail });
  if (sent) {
    clearValues.forget(conn, instance.instanceId);
    conn.note(`${me.name}'s browser sent the ${definition.title} result to ${host}`, 'form_submitted');
  } else {
    conn.note(`The ${definition.title} result could not be sent to ${host} (${detail}). ${me.name} can send it again.`, 'form_submitted');
  }
}

export function useForms(conn: SessionConnection, snap: SessionSnapshot): FormsState {
  const forms = useDocPart(conn, formsOf, readForms);
  const allValues = useDocPart(conn, formValuesOf, readAllValues);
  const [localVersion, setLocalVersion] = useState(0);
  /**
   * What this participant is typing in a field, shown as typed: the document's copy comes back a task
   * later, and a controlled input showing it would drop the keystrokes in between. Cleared on blur,
   * when the field shows the document again (with anyone else's later edit).
   */
  const [drafts, setDrafts] = useState<ReadonlyMap<string, string>>(new Map());
  const [resending, setResending] = useState(false);
  const me = snap.me;
  const catalog = useMemo(() => conn.attachInfo?.forms ?? [], [conn, snap.phase.kind]); // eslint-disable-line react-hooks/exhaustive-deps

  const instance = openForm(forms);
  const definition = instance ? (catalog.find((f) => f.id === instance.formId) ?? null) : null;
  const open = useMemo(() => (instance && definition ? { instance, definition } : null), [instance, definition]);
  const last = forms.filter((f) => f.state !== 'open').sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0)).at(-1) ?? null;
  const instanceId = instance?.instanceId ?? null;
  const values = useMemo(() => (instanceId ? valuesOf(allValues, instanceId) : new Map<string, FieldValue>()), [allValues, instanceId]);

  const editing = useAwareness(conn, projectEditing, (e) => JSON.stringify(e));
  const typing = useMemo(() => {
    const m = new Map<string, string[]>();
    for (const e of editing) if (e.instanceId === instanceId) m.set(e.fieldId, [...(m.get(e.fieldId) ?? []), e.name]);
    return m;
  }, [editing, instanceId]);

  const canType = useCallback((f: FieldDefinition) => !!me && f.editableBy.includes(me.role), [me]);
  const mineMasked = useCallback((f: FieldDefinition) => !!f.masked && canType(f), [canType]);

  const shown = useCallback(
    (f: FieldDefinition) => {
      if (instanceId && mineMasked(f)) return clearValues.get(conn, instanceId, f.id) ?? '';
      const draft = instanceId ? drafts.get(`${instanceId}/${f.id}`) : undefined;
      return draft ?? values.get(f.id)?.value ?? '';
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [conn, instanceId, mineMasked, values, drafts, localVersion],
  );

  const write = useCallback(
    (f: FieldDefinition, clear: string, settled: boolean) => {
      if (!instanceId || !me || !canType(f)) return;
      const value = clear.slice(0, f.maxLength);
      const problem = value === '' ? null : fieldProblem(f, value);
      if (f.masked) {
        clearValues.set(conn, instanceId, f.id, value);
        setLocalVersion((v) => v + 1);
        setFieldValue(conn.doc, instanceId, f.id, me, maskValue(f, value, settled), problem, Date.now());
      } else {
        setDrafts((d) => new Map(d).set(`${instanceId}/${f.id}`, value));
        setFieldValue(conn.doc, instanceId, f.id, me, value, problem, Date.now());
      }
    },
    [conn, instanceId, me, canType],
  );

  const type = useCallback((f: FieldDefinition, value: string) => write(f, value, false), [write]);
  const focus = useCallback(
    (f: FieldDefinition) => {
      if (instanceId && canType(f)) conn.setActivity('formField', { instanceId, fieldId: f.id });
    },
    [conn, instanceId, canType],
  );
  const blur = useCallback(
    (f: FieldDefinition) => {
      conn.setActivity('formField', null);
      if (instanceId) {
        setDrafts((d) => {
          if (!d.has(`${instanceId}/${f.id}`)) return d;
          const next = new Map(d);
          next.delete(`${instanceId}/${f.id}`);
          return next;
        });
      }
      // Settled: a complete masked value may now show its last characters.
      if (instanceId && mineMasked(f)) write(f, clearValues.get(conn, instanceId, f.id) ?? '', true);
    },
    [conn, instanceId, mineMasked, write],
  );

  // A masked value we typed before a reload: its clear value is gone with the old page, so the
  // masked one is withdrawn too and the field is typed again (nobody can submit a value no one holds).
  useEffect(() => {
    if (!open || !me) return;
    for (const f of open.definition.fields) {
      const v = values.get(f.id);
      if (mineMasked(f) && v && v.value !== '' && v.byId === me.participantId && clearValues.get(conn, open.instance.instanceId, f.id) === undefined) {
        setFieldValue(conn.doc, open.instance.instanceId, f.id, me, '', null, Date.now());
      }
    }
  }, [conn, open, me, values, mineMasked]);

  const problems = useMemo(() => {
    if (!open) return [];
    const out: { fieldId: string; message: string }[] = [];
    for (const f of open.definition.fields) {
      const v = values.get(f.id);
      if (!v || v.value.trim() === '') {
        if (f.required) out.push({ fieldId: f.id, message: `${f.label} is empty.` });
      } else if (v.problem) out.push({ fieldId: f.id, message: v.problem });
    }
    return out;
  }, [open, values]);

  const share = useCallback(
    (formId: string): Outcome => {
      const def = catalog.find((f) => f.id === formId);
      if (!me || me.role !== 'agent') return { ok: false, message: 'Only the agent shares forms.' };
      if (!def) return { ok: false, message: 'Choose a form to share.' };
      shareForm(conn.doc, me, def, Date.now(), newId());
      conn.note(`${me.name} shared the form ${def.title}`, 'form_shared');
      return { ok: true };
    },
    [conn, me, catalog],
  );

  const submit = useCallback((): Outcome => {
    if (!me || me.role !== 'agent' || !open) return { ok: false, message: 'There is no form to submit.' };
    if (problems.length > 0) return { ok: false, message: `Not yet: ${problems.map((p) => p.message).join(' ')}` };
    const result = open.definition.fields.map((f) => ({ fieldId: f.id, label: f.label, value: values.get(f.id)?.value ?? '' }));
    endForm(conn.doc, open.instance.instanceId, me, 'submitted', Date.now(), open.definition);
    conn.note(`${me.name} submitted the form ${open.definition.title}: ${resultLine(result)}`, 'form_submitted');
    return { ok: true };
  }, [conn, me, open, problems, values]);

  const close = useCallback((): Outcome => {
    if (!me || me.role !== 'agent' || !open) return { ok: false, message: 'There is no form to close.' };
    endForm(conn.doc, open.instance.instanceId, me, 'closed', Date.now());
    conn.note(`${me.name} closed the form ${open.definition.title} without submitting it`, 'form_submitted');
    return { ok: true };
  }, [conn, me, open]);

  const post = useCallback(
    (inst: FormInstance): Promise<void> => {
      const def = catalog.find((f) => f.id === inst.formId);
      if (!me || !def?.submitTo) return Promise.resolve();
      let set = inFlight.get(conn);
      if (!set) inFlight.set(conn, (set = new Set()));
      if (set.has(inst.instanceId)) return Promise.resolve();
      const running = set;
      running.add(inst.instanceId);
      return deliver(conn, me, inst, def).finally(() => running.delete(inst.instanceId));
    },
    [conn, me, catalog],
  );

  // The customer's browser holds the clear values: it sends a submitted result to the form's endpoint.
  useEffect(() => {
    if (me?.role !== resultPoster) return;
    for (const f of forms) if (f.state === 'submitted' && !f.delivery) void post(f);
    for (const f of forms) if (f.state === 'closed') clearValues.forget(conn, f.instanceId);
  }, [conn, forms, me, post]);

  const resend = useCallback(
    (id: string) => {
      const inst = forms.find((f) => f.instanceId === id);
      if (!inst || inst.state !== 'submitted') return;
      setResending(true);
      void post(inst).finally(() => setResending(false));
    },
    [forms, post],
  );

  // Submitted with an endpoint and not delivered yet: the customer's browser is sending it.
  const lastDefinition = last ? catalog.find((f) => f.id === last.formId) : undefined;
  const delivering = resending || (last?.state === 'submitted' && !!lastDefinition?.submitTo && !last.delivery);
  const submitted = useMemo(() => forms.filter((f) => f.state === 'submitted'), [forms]);
  return { catalog, open, last, submitted, values, typing, canType, shown, type, focus, blur, problems, share, submit, close, resend, delivering };
}
