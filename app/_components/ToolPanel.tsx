/** The agent's tool panels (Join Us, Push page, Share form): a titled box with Hide. */
import type { ReactNode } from 'react';

export function ToolPanel({ label, title, onHide, children }: { label: string; title: string; onHide: () => void; children: ReactNode }) {
  return (
    <section className="joinus-panel stack" aria-label={label}>
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h3 style={{ margin: 0 }}>{title}</h3>
        <button type="button" className="ghost small" onClick={onHide}>
          Hide
        </button>
      </div>
      {children}
    </section>
  );
}
