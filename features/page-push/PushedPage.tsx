'use client';
/**
 * C3: region "Pushed page". Everyone sees the page the agent pushed, in a sandboxed frame where the
 * site allows framing, or a clear "open in a new tab" where it does not. Participants other than
 * the agent can stop following ("Follow pushed pages") and resume. The agent gets the push controls
 * (Options ▸ Push page) and the history of pushed pages here.
 */
import { clockTime } from '@/lib/ui/time';
import { useState, type ReactNode } from 'react';
import { ToolPanel } from '@/app/_components/ToolPanel';
import type { PagePush } from './doc';
import type { PagePushState } from './usePagePush';


/**
 * Scripts and forms run (most pages need them) but the page can never reach ours: it keeps its own
 * origin (`allow-same-origin`) only when that origin is not ours, where it would lift the sandbox.
 */
function sandboxFor(url: string): string {
  const base = 'allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox';
  const ours = typeof window === 'undefined' ? null : window.location.origin;
  return new URL(url).origin === ours ? base : `${base} allow-same-origin`;
}

function NewTabLink({ url, children }: { url: string; children?: ReactNode }) {
  return (
    <a href={url} target="_blank" rel="noopener noreferrer">
      {children ?? 'Open in a new tab'}
    </a>
  );
}

function PageFrame({ push }: { push: PagePush }) {
  if (push.framing === 'refused') {
    return (
      <div className="page-refused" role="note">
        <p>
          <strong>This site does not allow being shown inside another page.</strong>
        </p>
        <p className="page-address">{push.url}</p>
        <NewTabLink url={push.url}>Open {new URL(push.url).host} in a new tab</NewTabLink>
      </div>
    );
  }
  return (
    <>
      <iframe
        key={push.id}
        className="page-frame"
        src={push.url}
        title={`Pushed page: ${push.url}`}
        sandbox={sandboxFor(push.url)}
        referrerPolicy="no-referrer"
        allow=""
      />
      {push.framing === 'unknown' ? (
        <p className="hint">If the page stays blank, the site may not allow being shown here: open it in a new tab.</p>
      ) : null}
    </>
  );
}

export function PushedPage({
  state,
  isAgent,
  controls,
}: {
  state: PagePushState;
  isAgent: boolean;
  /** The agent's push controls, while open (Options ▸ Push page). */
  controls?: ReactNode;
}) {
  const { shown, current, following } = state;
  const behind = !following && current && current.id !== shown?.id;
  return (
    <section className="card stack pushed" aria-label="Pushed page">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h3 style={{ margin: 0 }}>Pushed page</h3>
        {!isAgent ? (
          <label className="row check">
            <input type="checkbox" checked={following} onChange={(e) => state.setFollowing(e.target.checked)} />
            Follow pushed pages
          </label>
        ) : null}
      </div>
      {controls}
      {behind ? (
        <div role="status" className="alert info">
          {current.byName} pushed a newer page: {current.url}. Tick “Follow pushed pages” to see it.
        </div>
      ) : null}
      {shown ? (
        <div className="stack" style={{ gap: 8 }}>
          <div className="page-bar">
            <span className="page-address" title={shown.url}>
              {shown.url}
            </span>
            <span className="hint">
              {shown.byName} · {clockTime(shown.at)}
            </span>
            <NewTabLink url={shown.url} />
          </div>
          <PageFrame push={shown} />
        </div>
      ) : (
        <p className="empty">
          {!following && current
            ? 'You are not following pushed pages.'
            : isAgent
              ? 'No page pushed yet. Choose Options ▸ Push page to show everyone a web page.'
              : 'No page pushed yet. When the agent shows you a web page, it appears here.'}
        </p>
      )}
    </section>
  );
}

/** The agent's controls: a web address and Push, and every page pushed so far, to push again. */
export function PushPageControls({ state, onDone }: { state: PagePushState; onDone: () => void }) {
  const [address, setAddress] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const push = async (typed: string) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    const r = await state.push(typed);
    setBusy(false);
    if (!r.ok) return setError(r.message);
    setNotice(`Pushed ${r.url} to everyone in the session.`);
    setAddress('');
  };

  return (
    <ToolPanel label="Push page" title="Push a page to everyone" onHide={onDone}>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void push(address);
        }}
      >
        <label className="field grow">
          Web address
          <input
            value={address}
            onChange={(e) => {
              setAddress(e.target.value);
              setError(null);
            }}
            inputMode="url"
            autoComplete="url"
            autoCapitalize="none"
            spellCheck={false}
            maxLength={2100}
            placeholder="https://example.com/help"
          />
        </label>
        <button type="submit" disabled={busy || address.trim() === ''} style={{ alignSelf: 'flex-end' }}>
          {busy ? 'Pushing…' : 'Push'}
        </button>
      </form>
      {error ? <div role="alert" className="alert">{error}</div> : null}
      {notice ? <div role="status" className="alert info">{notice}</div> : null}
      {state.history.length > 0 ? (
        <div>
          <h4 style={{ margin: '4px 0' }}>Pushed pages</h4>
          <ul className="handles" aria-label="Pushed pages">
            {state.history.map((p) => (
              <li key={p.id}>
                <span className="page-address" title={p.url}>
                  {p.url} <span className="hint">{clockTime(p.at)}</span>
                </span>
                <button
                  type="button"
                  className="ghost small"
                  aria-label={`Push ${p.url} again`}
                  disabled={busy}
                  onClick={() => void push(p.url)}
                >
                  Push again
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </ToolPanel>
  );
}
