'use client';
/**
 * C4: region "Forms". While the agent has shared one, everyone sees form "Shared form": each field
 * as it is typed, who is typing where, read-only where one's role may not type, masked fields masked
 * for everyone but their typist. The agent submits or closes it; afterwards the last result stays in
 * view (masked), with whether the customer's browser delivered it to the form's endpoint.
 */
import { clockTime } from '@/lib/ui/time';
import { useState } from 'react';
import { ToolPanel } from '@/app/_components/ToolPanel';
import type { FieldDefinition } from './schema';
import type { FormsState } from './useForms';

const inputType: Record<FieldDefinition['type'], string> = {
  text: 'text',
  email: 'email',
  tel: 'tel',
  number: 'text',
  textarea: 'text',
  'card-number': 'text',
  expiry: 'text',
};

const autoComplete: Partial<Record<FieldDefinition['type'], string>> = {
  email: 'email',
  tel: 'tel',
  'card-number': 'cc-number',
  expiry: 'cc-exp',
};

function Field({ state, field, formKey }: { state: FormsState; field: FieldDefinition; formKey: string }) {
  const id = `${formKey}-${field.id}`;
  // What is wrong with a value is said once the typist leaves the field, not at every keystroke.
  const [focused, setFocused] = useState(false);
  const editable = state.canType(field);
  const value = state.shown(field);
  const doc = state.values.get(field.id);
  const typing = state.typing.get(field.id) ?? [];
  const problem = editable && !focused && doc?.problem && value !== '' ? doc.problem : null;
  const masked = field.masked && editable;
  const common = {
    id,
    value,
    readOnly: !editable,
    'aria-readonly': !editable,
    'aria-describedby': `${id}-note`,
    'aria-invalid': problem ? true : undefined,
    maxLength: field.maxLength,
    autoComplete: masked ? 'off' : (autoComplete[field.type] ?? 'off'),
    onFocus: () => {
      setFocused(true);
      state.focus(field);
    },
    onBlur: () => {
      setFocused(false);
      state.blur(field);
    },
    onChange: (e: { target: { value: string } }) => state.type(field, e.target.value),
    className: typing.length > 0 ? 'being-typed' : undefined,
  };
  const who = typing.length > 0 ? `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing here` : '';
  const note = [
    field.masked ? (editable ? 'Only you see this in full; the others see it masked.' : 'Masked: only the person who types it sees it in full.') : '',
    !editable && !field.masked ? `Typed by ${field.editableBy.map((r) => (r === 'guest' ? 'invited people' : `the ${r}`)).join(' or ')}.` : '',
    field.hint ?? '',
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <div className="form-field">
      <label htmlFor={id}>
        {field.label}
        {field.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {field.type === 'textarea' ? (
        <textarea {...common} rows={3} required={field.required} />
      ) : (
        <input {...common} type={inputType[field.type]} inputMode={field.type === 'card-number' ? 'numeric' : undefined} required={field.required} spellCheck={false} />
      )}
      <div className="field-note" id={`${id}-note`}>
        {who ? <span className="typing-here">{who}</span> : null}
        {who && note ? ' · ' : null}
        {note}
        {!editable && doc && !typing.length ? <span> · last typed by {doc.byName}</span> : null}
      </div>
      {problem ? <div className="field-problem">{problem}</div> : null}
    </div>
  );
}


export function SharedForms({ state, isAgent, isPoster, controls }: { state: FormsState; isAgent: boolean; isPoster: boolean; controls?: React.ReactNode }) {
  const [error, setError] = useState<string | null>(null);
  const { open, last } = state;
  const act = (r: { ok: true } | { ok: false; message: string }) => setError(r.ok ? null : r.message);
  return (
    <section className="card stack forms" aria-label="Forms">
      <h3 style={{ margin: 0 }}>Shared form</h3>
      {controls}
      {open ? (
        <form
          aria-label="Shared form"
          noValidate
          className="stack shared-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (isAgent) act(state.submit());
          }}
        >
          <div>
            <strong>{open.definition.title}</strong>
            <div className="hint">
              Shared by {open.instance.sharedByName} · {clockTime(open.instance.at)}
              {open.definition.description ? ` · ${open.definition.description}` : ''}
            </div>
          </div>
          {open.definition.fields.map((f) => (
            <Field key={f.id} state={state} field={f} formKey={open.instance.instanceId.slice(0, 8)} />
          ))}
          {isAgent ? (
            <div className="row">
              <button type="submit" aria-describedby="form-submit-note">
                Submit form
              </button>
              <button type="button" className="secondary" onClick={() => act(state.close())}>
                Close form
              </button>
              <span className="hint" id="form-submit-note">
                {state.problems.length > 0 ? `Waiting for: ${state.problems.map((p) => p.message).join(' ')}` : 'Everything needed is filled in.'}
              </span>
            </div>
          ) : null}
          {error ? <div role="alert" className="alert">{error}</div> : null}
        </form>
      ) : last ? (
        <div className="stack form-summary">
          <div>
            <strong>{last.title}</strong>{' '}
            <span className="hint">
              {last.state === 'submitted' ? `submitted by ${last.endedByName ?? 'the agent'}` : `closed by ${last.endedByName ?? 'the agent'} without submitting`}
              {last.endedAt ? ` · ${clockTime(last.endedAt)}` : ''}
            </span>
          </div>
          {last.result ? (
            <dl className="result" aria-label="Submitted form">
              {last.result.map((r) => (
                <div key={r.fieldId}>
                  <dt>{r.label}</dt>
                  <dd>{r.value === '' ? '—' : r.value}</dd>
                </div>
              ))}
            </dl>
          ) : null}
          {last.delivery ? (
            <div role="status" className={`alert ${last.delivery.state === 'sent' ? 'info' : ''}`}>
              {last.delivery.state === 'sent'
                ? 'The result was sent to the company from the customer’s browser.'
                : `The result could not be sent to the company (${last.delivery.detail}).`}
              {last.delivery.state === 'failed' && isPoster ? (
                <>
                  {' '}
                  <button type="button" className="small" disabled={state.delivering} onClick={() => state.resend(last.instanceId)}>
                    Send again
                  </button>
                </>
              ) : null}
            </div>
          ) : state.delivering ? (
            <div role="status" className="alert info">
              {isPoster ? 'Sending the result to the company…' : 'Waiting for the customer’s browser to send the result to the company (it holds the values in full)…'}
            </div>
          ) : null}
        </div>
      ) : (
        <p className="empty">{isAgent ? 'No form shared. Choose Options ▸ Share form to fill one in together.' : 'No form shared. When the agent shares a form, you fill it in here together.'}</p>
      )}
    </section>
  );
}

/** The agent's controls: combobox "Form" and Share. */
export function ShareFormControls({ state, onDone }: { state: FormsState; onDone: () => void }) {
  const [formId, setFormId] = useState(state.catalog[0]?.id ?? '');
  const [error, setError] = useState<string | null>(null);
  return (
    <ToolPanel label="Share form" title="Share a form" onHide={onDone}>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          const r = state.share(formId);
          if (!r.ok) return setError(r.message);
          setError(null);
          onDone();
        }}
      >
        <label className="field grow">
          Form
          <select value={formId} onChange={(e) => setFormId(e.target.value)}>
            {state.catalog.map((f) => (
              <option key={f.id} value={f.id}>
                {f.title}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={!formId} style={{ alignSelf: 'flex-end' }}>
          Share
        </button>
      </form>
      {state.open ? <p className="hint">Sharing another form closes {state.open.definition.title} without submitting it.</p> : null}
      {error ? <div role="alert" className="alert">{error}</div> : null}
    </ToolPanel>
  );
}
