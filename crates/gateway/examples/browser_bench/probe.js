// Installed by browser-bench (CDP Page.addScriptToEvaluateOnNewDocument) before any page script
// runs. It records, on the page's own clock (performance.now(): ms since navigation start), when
// the states the benchmark measures are first reached. A "paint" time is taken in the first task
// after the next animation frame, i.e. after the frame that shows the change was produced.
// Nothing here changes the app's behaviour except the optional auto-open click on reload.
(() => {
  if (window.__tlb) return;
  const now = () => performance.now();
  const b = (window.__tlb = {
    marks: {}, // key -> {dom, paint}
    clickAt: null, // last click on the launcher (capture phase, before the app sees it)
    onlineAt: null,
    offlineAt: null,
    lastFrameAt: null, // last WebSocket frame received (before the app's handler runs)
    frames: 0,
    want: null, // {key, text, autoOpen}: mark `key` when a message containing `text` is shown
    wantShownCount: null, // how many messages were in the DOM when `want` was reached
    appendWant: null, // text of the next agent message whose append is timed
    appends: [], // [{frameAt, domAt, paintAt}]
    leftConnected: false, // the status left `connected` since `expectReconnect()`
    wasm: null,
    wsLog: [],
  });

  // A reload measurement is configured before the navigation, through sessionStorage.
  try {
    const config = JSON.parse(sessionStorage.getItem('__tlb') || 'null');
    sessionStorage.removeItem('__tlb');
    if (config && config.want) b.want = config.want;
  } catch (_) {
    /* storage blocked: no reload measurement */
  }

  // Frame arrival time: a listener added in the constructor runs before the app's own handler.
  const NativeSocket = window.WebSocket;
  if (NativeSocket) {
    class BenchSocket extends NativeSocket {
      constructor(...args) {
        super(...args);
        // The first frames of the page (time, direction, kind), for reading where a reload's
        // time goes (browser-bench BENCH_RESOURCES=1).
        const log = (what) => { if (b.wsLog.length < 30) b.wsLog.push(`${now().toFixed(1)} ${what}`); };
        log('new');
        this.addEventListener('open', () => log('open'));
        this.addEventListener('message', (e) => {
          b.lastFrameAt = now();
          b.frames += 1;
          if (b.wsLog.length < 30) log(`recv ${(String(e.data).match(/"(type|class)":"([^"]*)"/) || [])[2]}`);
        });
      }
      send(data) {
        if (b.wsLog.length < 30) b.wsLog.push(`${now().toFixed(1)} send ${(String(data).match(/"action":"([^"]*)"/) || [])[1]}`);
        return super.send(data);
      }
    }
    window.WebSocket = BenchSocket;
  }
  addEventListener('online', () => { b.onlineAt = now(); check([]); });
  addEventListener('offline', () => { b.offlineAt = now(); });
  // Trunk's start script announces the wasm exports (with `memory`) in this event.
  addEventListener('TrunkApplicationStarted', (e) => { b.wasm = (e.detail && e.detail.wasm) || null; });
  document.addEventListener('click', (e) => {
    const path = e.composedPath ? e.composedPath() : [e.target];
    if (path.some((n) => n && n.getAttribute && n.getAttribute('data-testid') === 'launcher')) b.clickAt = now();
  }, true);

  // The messenger may live in (open) shadow roots once the embed loader is used.
  const roots = [document];
  const options = { subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-state', 'disabled', 'hidden', 'aria-expanded', 'class'] };
  const scanShadowRoots = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot && !roots.includes(el.shadowRoot)) {
        roots.push(el.shadowRoot);
        observer.observe(el.shadowRoot, options);
        scanShadowRoots(el.shadowRoot);
      }
    }
  };
  const q = (sel) => {
    for (const r of roots) { const e = r.querySelector(sel); if (e) return e; }
    return null;
  };
  const qa = (sel) => roots.flatMap((r) => Array.from(r.querySelectorAll(sel)));
  const stateOf = (id) => { const e = q(`[data-testid=${id}]`); return e ? e.getAttribute('data-state') : null; };
  const visible = (e) => !!e && e.getClientRects().length > 0;
  const composerEnabled = () => {
    const c = q('[data-testid=composer]');
    if (!c) return false;
    const field = c.matches('textarea, input, [contenteditable]') ? c : c.querySelector('textarea, input, [contenteditable]');
    return !!field && !field.disabled && visible(field);
  };
  const stamp = (key, extra) => {
    if (b.marks[key]) return;
    const mark = (b.marks[key] = Object.assign({ dom: now(), paint: null }, extra || {}));
    requestAnimationFrame(() => setTimeout(() => { mark.paint = now(); }, 0));
  };
  // Messages among the added nodes (the nodes themselves or inside them).
  const addedMessages = (records) => {
    const out = [];
    for (const record of records) {
      for (const node of record.addedNodes || []) {
        if (node.nodeType !== 1) continue;
        if (node.getAttribute('data-testid') === 'message') out.push(node);
        else if (node.querySelectorAll) out.push(...node.querySelectorAll('[data-testid=message]'));
      }
    }
    return out;
  };
  let wantElement = null;
  let autoOpenClicks = 0;
  let lastAutoOpen = -1e9;

  function check(records) {
    if (!b.marks.launcher) {
      scanShadowRoots(document);
      const launcher = q('[data-testid=launcher]');
      if (visible(launcher)) stamp('launcher');
    }
    const open = stateOf('messenger') === 'open';
    const status = stateOf('status');
    if (b.clickAt !== null && !b.marks.interactive && open && status === 'connected' && composerEnabled()) {
      stamp('interactive', { clickAt: b.clickAt });
    }
    if (status && status !== 'connected') b.leftConnected = true;
    if (b.onlineAt !== null && b.leftConnected && status === 'connected') stamp('reconnected', { onlineAt: b.onlineAt });

    const added = records.length ? addedMessages(records) : [];
    if (b.want && !b.marks[b.want.key]) {
      if (!wantElement) wantElement = added.find((m) => (m.textContent || '').includes(b.want.text)) || null;
      if (b.want.autoOpen && !open && autoOpenClicks < 20 && now() - lastAutoOpen > 50) {
        const launcher = q('[data-testid=launcher]');
        if (visible(launcher)) { autoOpenClicks += 1; lastAutoOpen = now(); launcher.click(); }
      }
      if (wantElement && wantElement.isConnected && open && visible(wantElement)) {
        b.wantShownCount = qa('[data-testid=message]').length;
        stamp(b.want.key, { clickAt: b.clickAt });
      }
    }
    if (b.appendWant !== null) {
      const hit = added.find((m) => (m.textContent || '').includes(b.appendWant));
      if (hit) {
        const sample = { frameAt: b.lastFrameAt, domAt: now(), paintAt: null };
        b.appendWant = null;
        b.appends.push(sample);
        requestAnimationFrame(() => setTimeout(() => { sample.paintAt = now(); }, 0));
      }
    }
  }
  const observer = new MutationObserver((records) => check(records));
  observer.observe(document, options);
  // Auto-open retries need a tick even when the DOM is quiet.
  const retry = setInterval(() => {
    if (!b.want || b.marks[b.want.key] || autoOpenClicks >= 20) { if (b.marks.launcher) clearInterval(retry); return; }
    check([]);
  }, 60);

  /// Starts timing `key`: shown when a message containing `text` is visible in the open panel.
  b.setWant = (key, text) => {
    delete b.marks[key];
    b.want = { key, text, autoOpen: false };
    wantElement = qa('[data-testid=message]').find((m) => (m.textContent || '').includes(text)) || null;
    return wantElement !== null;
  };
  b.expectReconnect = () => { b.leftConnected = false; b.onlineAt = null; delete b.marks.reconnected; };
  // Entries in the transcript: a long one renders only a window of its messages, and says how
  // many it holds in `data-rows`. Falls back to counting rendered messages.
  b.count = () => {
    const rows = Number((q('[data-testid=transcript]') || { getAttribute: () => null }).getAttribute('data-rows'));
    return Math.max(Number.isFinite(rows) ? rows : 0, qa('[data-testid=message]').length);
  };
  b.state = (id) => stateOf(id);
  b.wasmBytes = () => (b.wasm && b.wasm.memory && b.wasm.memory.buffer ? b.wasm.memory.buffer.byteLength : null);
})();
