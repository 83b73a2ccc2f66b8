// The one table `npm run bench` ends with: every quality bar of issue 11 (and the earlier issues'
// bars the bench already had), its figure from this run, its target, the reference measured in the
// same run and, where the bar is a ratio, the ratio. Rows are plain objects, shared with the parts
// that print their own detail (bench/signaling-capacity.mjs, bench/page-weight.mjs):
//   { section: 'TITLE' }
//   { label, stat, target?, ok?, note? }   stat: summarize() from harness.mjs (ms)
//   { label, value, target?, ok?, note? }  value: a string already formatted
// `ok` (true / false / undefined) is whether the target holds; printed as "yes" / "NO" / "".

const fmt = (x) => (x === null || x === undefined ? '–' : String(x));

/** Prints rows as one aligned table under `title`. */
export function printRows(title, rows) {
  const lines = rows.map((r) => {
    if (r.section) return { section: r.section };
    const s = r.stat;
    // A short value sits in the median column; a long one is written out in the last column.
    const long = !s && String(r.value ?? '').length > 12;
    const figures = s
      ? s.n === 0
        ? [`0/${s.failed}`, '', '', '', '']
        : [`${s.n}${s.failed ? `+${s.failed}✗` : ''}`, fmt(s.median), fmt(s.p90), fmt(s.p99), fmt(s.max)]
      : ['', long ? '' : (r.value ?? ''), '', '', ''];
    const note = long ? [r.value, r.note].filter(Boolean).join('; ') : (r.note ?? '');
    return { cells: [r.label, ...figures, r.target ?? '', r.ok === true ? 'yes' : r.ok === false ? 'NO' : '', note] };
  });
  const head = ['', 'n', 'median', 'p90', 'p99', 'max', 'target', 'met', 'reference / note'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.filter((l) => l.cells).map((l) => String(l.cells[i]).length)));
  widths[widths.length - 1] = 0;
  const row = (cells) => cells.map((c, i) => (i === 0 || i >= 6 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(row(head));
  for (const l of lines) console.log(l.section ? l.section : row(l.cells));
}

const atMost = (x, limit) => (typeof x === 'number' ? x <= limit : undefined);
const atLeast = (x, limit) => (typeof x === 'number' ? x >= limit : undefined);
const both = (...xs) => (xs.some((x) => x === undefined) ? undefined : xs.every(Boolean));
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 10) / 10 : null);

/** The quality bars, from whatever parts this run measured. */
export function summaryRows(r) {
  const rows = [];
  if (r.join) {
    const j = r.join;
    const ref = j.reference.startToSyncedMs;
    const x = ratio(j.clickToTranscriptMs.median, ref.median);
    rows.push({ section: 'JOIN, user level (real server and pages, idle machine targets)' });
    rows.push({
      label: '"Join Us" clicked → transcript on screen (ms)',
      stat: j.clickToTranscriptMs,
      target: 'median ≤ 150, p90 ≤ 250',
      ok: both(atMost(j.clickToTranscriptMs.median, 150), atMost(j.clickToTranscriptMs.p90, 250)),
    });
    rows.push({
      label: '  … as a multiple of the bare provider',
      value: x === null ? '–' : `${x}×`,
      target: '≤ 3×',
      ok: atMost(x, 3),
      note: `bare MeshProvider start → synced, fresh page, same run: median ${fmt(ref.median)} ms (n ${ref.n})`,
    });
    if (j.clickToCustomerSeesMs) {
      rows.push({ label: '"Join Us" clicked → customer sees the newcomer (ms)', stat: j.clickToCustomerSeesMs, note: `its arrival line; the agent: median ${fmt(j.clickToAgentSeesMs?.median)} ms` });
    }
    rows.push({ label: 'joined party reloads → transcript on screen (ms)', stat: j.reloadToTranscriptMs });
    rows.push({
      label: 'Join Us page: navigation → form usable (ms)',
      stat: j.joinFormReadyMs,
      note: `first paint median ${fmt(j.joinFirstPaintMs.median)} ms; first focus → connected median ${fmt(j.joinFocusToConnectedMs?.median)} ms`,
    });
    rows.push({ label: 'help page: navigation → form usable (ms)', stat: j.helpFormReadyMs, note: `→ connected median ${fmt(j.helpConnectedMs?.median)} ms` });
    rows.push({ label: 'customer "Start session" → queue position shown (ms)', stat: j.startToQueuedMs });
    rows.push({ label: 'agent "Accept" → both transcripts show both joined (ms)', stat: j.acceptToBothMs });
  }
  if (r.fanout) {
    const f = r.fanout.fullMesh.reachMs;
    const raw = r.fanout.rawChannel?.reachMs;
    const tap = r.fanout.providerChannels?.reachMs;
    rows.push({ section: 'FAN-OUT, session of six' });
    rows.push({
      label: 'one chat message → all five others (ms)',
      stat: f,
      target: 'median ≤ 2, p99 ≤ 10',
      ok: both(atMost(f.median, 2), atMost(f.p99, 10)),
      note: raw
        ? `raw data channels, same six pages: median ${fmt(raw.median)}, p99 ${fmt(raw.p99)} ms` +
          (tap ? `; the provider's own channels, a bare message: median ${fmt(tap.median)} ms` : '')
        : '',
    });
  }
  if (r.large) {
    const l = r.large;
    rows.push({ section: `LATE JOINER, ${((l.documentBytes ?? 0) / 1e6).toFixed(1)} MB document` });
    rows.push({
      label: 'ours: start → content in the document (ms)',
      stat: l.ours.contentMs,
      target: 'median ≤ 1,500',
      ok: atMost(l.ours.contentMs.median, 1500),
      note: `${l.rawChannel?.transferMs?.n ? `raw data channel, same bytes and pages: median ${fmt(l.rawChannel.transferMs.median)} ms; ` : ''}stock y-webrtc: ${l.stock.synced}/${l.stock.attempts} synced${l.stock.synced === 0 ? ` in ${l.stock.timeoutMs / 1000} s (${l.stock.sendErrors[0] ?? 'no error seen'})` : ''}`,
    });
  }
  const cap = r.signalingCapacity;
  if (cap && !cap.error) {
    rows.push({ section: 'SIGNALING CAPACITY, one process' });
    const floor = cap.floor?.levels?.[0]?.perConnectionKiB;
    for (const l of cap.idle?.levels ?? []) {
      rows.push({
        label: `${l.connections.toLocaleString('en')} idle participants: memory a connection`,
        value: `${l.perConnectionKiB} KiB`,
        ok: l.disconnects === 0 ? undefined : false,
        note: `${l.disconnects} disconnects${floor ? `; bare socket.io ${floor} KiB` : ''}`,
      });
      if (l.joins) rows.push({ label: '  a join through the API meanwhile (ms)', stat: l.joins.connectToAttach, target: '≤ 50', ok: atMost(l.joins.connectToAttach.median, 50) });
    }
    for (const [store, target] of [
      ['memory', 5000],
      ['redis', 2000],
    ]) {
      const c = cap.cycles?.[store];
      if (!c) continue;
      rows.push({
        label: `handle reserve → consume through the API, ${store} store`,
        value: c.error ? `failed: ${c.error}` : `${c.perSecond.toLocaleString('en')}/s`,
        target: `≥ ${target.toLocaleString('en')}/s`,
        ok: c.error ? false : atLeast(c.perSecond, target),
        note: c.error ? '' : `${c.failed} failed; server ${c.server.cpuUsPerCycle} µs a cycle`,
      });
    }
  }
  const w = r.pageWeight;
  if (w && !w.error && w.floor?.page) {
    rows.push({ section: `PAGE WEIGHT, JavaScript (gzip), floor = empty Next.js page ${(w.floor.page.gzip / 1000).toFixed(1)} kB` });
    for (const p of w.pages ?? []) {
      if (!p.aboveFloor) continue;
      const above = Math.round(p.aboveFloor.gzip / 100) / 10;
      rows.push({
        label: `${p.path.startsWith('/session') ? '/session/<id>' : p.path}: above the floor`,
        value: `+${above} kB`,
        ...(p.path === '/join' ? { target: '≤ 15 kB', ok: above <= 15 } : {}),
        note: `${(p.page.gzip / 1000).toFixed(1)} kB in all`,
      });
    }
  }
  if (r.queueScale?.agentLatencyMs) {
    const q = r.queueScale.agentLatencyMs;
    rows.push({ section: 'QUEUE AT SCALE, 1,000 consoles × 1,000 waiting (issue 9)' });
    rows.push({ label: 'console latency, change made → console has it (ms)', stat: q, target: 'p99 ≤ 200', ok: atMost(q.p99, 200) });
  }
  if (r.largeSession?.clickToCompleteMs) {
    rows.push({ section: 'LATE JOINER, large session in the product (issue 6)' });
    rows.push({ label: '"Join Us" clicked → everything on screen (ms)', stat: r.largeSession.clickToCompleteMs });
    rows.push({ label: '  longest main-thread task meanwhile (ms)', stat: r.largeSession.longestTaskMs });
  }
  return rows;
}

export { atLeast, atMost, both, ratio };
