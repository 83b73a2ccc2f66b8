'use client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import * as z from '../../lib/zod';
import type { SessionConnection, SessionSnapshot } from '../../lib/client/session-connection';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import { newId } from '../../lib/collab/ids';
import { useAwareness } from '../../lib/collab/use-awareness';
import { useDocPart } from '../../lib/collab/use-doc-part';
import { verifiedPresence, type Author } from '../participants/doc';
import { clearValues } from './clear-values';
import {
  endForm,
  FieldWriter,
  formEventsOf,
  formValuesOf,
  openForm,
  readAllValues,
  readForms,
  recordDelivery,
  resultLine,
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

const formFieldSchema = z.object({ instanceId: z.string().max(64), fieldId: z.string().max(32) });
type Editing = { instanceId: string; fieldId: string; participantId: string; name: string }[];

/** Who is typing where: the other peers whose presence verifies (names from the directory). */
function projectEditing(states: Map<number, Record<string, unknown>>, self: number, auth: Authorship): Editing {
  const out: Editing = [];
  const seen = new Set<string>();
  for (const p of verifiedPresence(states, self, auth)) {
    const field = formFieldSchema.safeParse(p.state.formField);
    if (!field.success) continue;
    // Two tabs of one participant in one field: named once.
    const key = JSON.stringify([field.data.instanceId, field.data.fieldId, p.participantId]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ instanceId: field.data.instanceId, fieldId: field.data.fieldId, participantId: p.participantId, name: p.name });
  }
  return out.sort((a, b) => (a.fieldId + a.name < b.fieldId + b.name ? -1 : 1));
}

/** One writer of field values per connection: writes of a field land in the order they were typed. */
const writers = new WeakMap<SessionConnection, FieldWriter>();
function writerFor(conn: SessionConnection): FieldWriter {
  let w = writers.get(conn);
  if (!w) writers.set(conn, (w = new FieldWriter(conn.doc, () => conn.signer)));
  return w;
}

/** Results this tab is posting now (per connection), so a re-render never posts twice. */
const inFlight = new WeakMap<SessionConnection, Set<string>>();

async function deliver(conn: SessionConnection, me: Author, signer: Signer, instance: FormInstance, definition: FormDefinition): Promise<void> {
  const url = definition.submitTo;
  if (!url) return;
  const host = new URL(url).host;
  const values: Record<string, string> = {};
  for (const f of definition.fields) {
    const fromDoc = instance.result?.find((r) => r.fieldId === f.id)?.value ?? '';
    if (f.masked && f.editableBy.includes(me.role)) {
      const clear = clearValues.get(conn, instance.instanceId, f.id);
      if (clear === undefined && fromDoc !== '') {
        await recordDelivery(conn.doc, signer, instance.instanceId, { state: 'failed', at: Date.now(), detail: `${f.label} was not typed in this browser tab` });
        void conn.note(`${me.name}'s browser could not send the ${definition.title} result to ${host}: ${f.label} was typed in another tab or before a reload.`, 'form_submitted').catch(() => undefined);
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
  await recordDelivery(conn.doc, signer, instance.instanceId, { state: sent ? 'sent' : 'failed', at: Date.now(), detail });
  if (sent) {
    clearValues.forget(conn, instance.instanceId);
    void conn.note(`${me.name}'s browser sent the ${definition.title} result to ${host}`, 'form_submitted').catch(() => undefined);
  } else {
    void conn.note(`${me.name}'s browser could not send the ${definition.title} result to ${host} (${detail}). ${me.name} can send it again.`, 'form_submitted').catch(() => undefined);
  }
}

export function useForms(conn: SessionConnection, snap: SessionSnapshot): FormsState {
  const forms = useDocPart(conn, formEventsOf, readForms);
  const allValues = useDocPart(conn, formValuesOf, readAllValues);
  const [localVersion, setLocalVersion] = useState(0);
  /**
   * What this participant is typing in a field, shown as typed: the document's copy comes back a task
   * later, and a controlled input showing it would drop the keystrokes in between. Cleared on blur,
   * when the field shows the document again (with anyone else's later edit).
   */
  const [drafts, setDrafts] = useState<ReadonlyMap<string, string>>(new Map());
  /** The last value this participant typed in each field (what a draft is cleared against). */
  const typed = useRef(new Map<string, string>());
  /** Forms this tab is submitting or closing now (signing): a second click does nothing. */
  const ending = useRef(new Set<string>());
  const [resending, setResending] = useState(false);
  const writer = writerFor(conn);
  const me = snap.me;
  const catalog = useMemo(() => conn.attachInfo?.forms ?? [], [conn, snap.phase.kind]); // eslint-disable-line react-hooks/exhaustive-deps

  const instance = openForm(forms);
  const definition = instance ? (catalog.find((f) => f.id === instance.formId) ?? null) : null;
  const open = useMemo(() => (instance && definition ? { instance, definition } : null), [instance, definition]);
  const last = forms.filter((f) => f.state !== 'open').sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0)).at(-1) ?? null;
  const instanceId = instance?.instanceId ?? null;
  // Only values typed by a role that may type the field (a modified page can write any field).
  const values = useMemo(() => {
    const out = new Map<string, FieldValue>();
    if (!instanceId || !definition) return out;
    for (const [fieldId, v] of valuesOf(allValues, instanceId)) {
      if (definition.fields.some((f) => f.id === fieldId && f.editableBy.includes(v.role))) out.set(fieldId, v);
    }
    return out;
  }, [allValues, instanceId, definition]);

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
        void writer.write(instanceId, f.id, maskValue(f, value, settled), problem, Date.now());
      } else {
        const key = `${instanceId}/${f.id}`;
        typed.current.set(key, value);
        setDrafts((d) => new Map(d).set(key, value));
        void writer.write(instanceId, f.id, value, problem, Date.now());
      }
    },
    [conn, instanceId, me, canType, writer],
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
        // Once our last write of the field is in the document (signing takes a moment), the field
        // shows the document again; not when typing in it resumed meanwhile.
        const key = `${instanceId}/${f.id}`;
        const atBlur = typed.current.get(key);
        void writer.idle(instanceId, f.id).then(() =>
          setDrafts((d) => {
            if (!d.has(key) || d.get(key) !== atBlur) return d;
            const next = new Map(d);
            next.delete(key);
            return next;
          }),
        );
      }
      // Settled: a complete masked value may now show its last characters.
      if (instanceId && mineMasked(f)) write(f, clearValues.get(conn, instanceId, f.id) ?? '', true);
    },
    [conn, instanceId, mineMasked, write, writer],
  );

  // A masked value we typed before a reload: its clear value is gone with the old page, so the
  // masked one is withdrawn too and the field is typed again (nobody can submit a value no one holds).
  useEffect(() => {
    if (!open || !me) return;
    for (const f of open.definition.fields) {
      const v = values.get(f.id);
      if (mineMasked(f) && v && v.value !== '' && v.byId === me.participantId && clearValues.get(conn, open.instance.instanceId, f.id) === undefined) {
        void writer.write(open.instance.instanceId, f.id, '', null, Date.now());
      }
    }
  }, [conn, open, me, values, mineMasked, writer]);

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
      const signer = conn.signer;
      if (!me || me.role !== 'agent' || !signer) return { ok: false, message: 'Only the agent shares forms.' };
      if (!def) return { ok: false, message: 'Choose a form to share.' };
      void shareForm(conn.doc, signer, conn.auth, def, Date.now(), newId())
        .then(() => conn.note(`${me.name} shared the form ${def.title}`, 'form_shared'))
        .catch(() => undefined);
      return { ok: true };
    },
    [conn, me, catalog],
  );

  /** Signs and writes the end of the open form, once per form however often it is clicked. */
  const end = useCallback(
    (state: 'submitted' | 'closed'): Outcome => {
      const signer = conn.signer;
      if (!me || me.role !== 'agent' || !open || !signer) return { ok: false, message: `There is no form to ${state === 'submitted' ? 'submit' : 'close'}.` };
      if (state === 'submitted' && problems.length > 0) return { ok: false, message: `Not yet: ${problems.map((p) => p.message).join(' ')}` };
      const { instance: inst, definition: def } = open;
      if (ending.current.has(inst.instanceId)) return { ok: true };
      ending.current.add(inst.instanceId);
      void endForm(conn.doc, signer, conn.auth, inst.instanceId, state, Date.now(), def)
        .then((result) =>
          conn.note(
            result ? `${me.name} submitted the form ${def.title}: ${resultLine(result)}` : `${me.name} closed the form ${def.title} without submitting it`,
            'form_submitted',
          ),
        )
        .catch(() => undefined)
        .finally(() => ending.current.delete(inst.instanceId));
      return { ok: true };
    },
    [conn, me, open, problems],
  );
  const submit = useCallback(() => end('submitted'), [end]);
  const close = useCallback(() => end('closed'), [end]);

  const post = useCallback(
    (inst: FormInstance): Promise<void> => {
      const def = catalog.find((f) => f.id === inst.formId);
      const signer = conn.signer;
      if (!me || !signer || !def?.submitTo) return Promise.resolve();
      let set = inFlight.get(conn);
      if (!set) inFlight.set(conn, (set = new Set()));
      if (set.has(inst.instanceId)) return Promise.resolve();
      const running = set;
      running.add(inst.instanceId);
      return deliver(conn, me, signer, inst, def)
        .catch(() => undefined)
        .finally(() => running.delete(inst.instanceId));
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
