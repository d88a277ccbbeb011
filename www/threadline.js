/* Threadline loader: the one script a host page includes (README "Embedding").
 * Replays calls queued by the snippet's stub (Threadline.q, Genesys.q), draws a light launcher
 * in a Shadow DOM host, and loads the messenger (wasm) on idle or on the first click.
 * Writes no storage, no cookies, no inline style (strict CSP). The build stamps @APP@/@CSS@
 * with the hashed app file names (www/stamp-loader.sh). */
(function (w, d) {
  'use strict';
  var stub = w.Threadline, gen = w.Genesys;
  if (stub && stub.embedded) return; // included twice
  var me = d.currentScript || d.querySelector('script[src*="threadline.js"]');
  var src = me ? me.src : location.href;
  var at = function (file) { return new URL(file, src).href; };
  // Settings: loader origin as server < stub .c (Genesys snippet) < data-* attributes < 'init'.
  var cfg = { server: new URL(src).origin };
  [gen && gen.c, stub && stub.c, me && me.dataset].forEach(function (c) { for (var k in c) cfg[k] = c[k]; });

  var subs = {}, pending = [], ready, app, loading, started;
  var host = d.createElement('threadline-messenger');
  var root = host.attachShadow({ mode: 'open' });
  var sheet = new CSSStyleSheet();
  // :host resets everything the page could make us inherit; !important beats page !important.
  sheet.replaceSync(':host{all:initial!important;position:fixed!important;z-index:2147483000!important}' +
    '.tl-boot{position:fixed;bottom:20px;right:20px;width:58px;height:58px;padding:0;border:0;border-radius:50%;' +
    'background:var(--tl-primary,#0d6efd);color:#fff;box-shadow:0 12px 40px #10182830;display:grid;place-items:center;cursor:pointer}' +
    ':host([data-position=left]) .tl-boot{right:auto;left:20px}' +
    '.tl-boot svg{width:28px;height:28px;fill:none;stroke:currentColor;stroke-width:2;stroke-linejoin:round}' +
    ':host([data-launcher=hidden]) .tl-launcher,:host([data-launcher=hidden]) .tl-boot{display:none!important}');
  root.adoptedStyleSheets = [sheet];
  var boot = d.createElement('button');
  boot.type = 'button';
  boot.className = 'tl-boot';
  boot.setAttribute('data-testid', 'launcher');
  boot.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  boot.onclick = function () { command('Messenger.open'); };
  root.appendChild(boot);

  // Subscribers run in a microtask: never inside the app's engine loop, and one that throws
  // is reported without silencing the others.
  function call(cb, name, ev) {
    if ((subs[name] || []).indexOf(cb) >= 0) try { cb(ev); } catch (e) { setTimeout(function () { throw e; }); }
  }
  function emit(name, data) {
    var ev = { event: name, data: data };
    if (name == 'Messenger.ready') ready = ev;
    Promise.resolve().then(function () {
      (subs[name] || []).slice().forEach(function (cb) { call(cb, name, ev); });
      w.dispatchEvent(new CustomEvent('threadline:' + name, { detail: data }));
      if (ready == ev) {
        var focused = root.activeElement == boot, real = root.querySelector('.tl-launcher');
        boot.remove(); // the app's own launcher takes over
        if (focused && real) real.focus();
        pending.splice(0).forEach(function (p) { app.threadline_command(p[0], p[1]).then(p[2], p[3]); });
      }
    });
  }

  function load() {
    started = 1;
    return loading || (loading = Promise.all([
      import(at('@APP@.js')),
      fetch(at('@CSS@')).then(function (r) { if (!r.ok) throw Error('stylesheet: HTTP ' + r.status); return r.text(); })
    ]).then(function (r) {
      app = r[0];
      return Promise.all([app.default({ module_or_path: at('@APP@_bg.wasm') }), new CSSStyleSheet().replace(r[1])]);
    }).then(function (r) {
      root.adoptedStyleSheets = [sheet, r[1]];
      var box = d.createElement('div');
      root.appendChild(box);
      app.threadline_boot(box, cfg, emit);
    }).catch(function (e) {
      loading = 0; // the next click tries again
      console.error('Threadline: the messenger could not load', e);
      pending.splice(0).forEach(function (p) { p[3](e instanceof Error ? e : Error(String(e))); });
    }));
  }

  function command(name, opts) {
    if (name == 'Launcher.show' || name == 'Launcher.hide') {
      host.setAttribute('data-launcher', name == 'Launcher.hide' ? 'hidden' : 'shown');
      return Promise.resolve();
    }
    if (ready) return app.threadline_command(name, opts == null ? {} : opts);
    // Load after the current task, so 'init' calls queued behind this command still apply.
    return new Promise(function (ok, no) { pending.push([name, opts == null ? {} : opts, ok, no]); setTimeout(load); });
  }

  function api(kind, name, opts, ok, no) {
    var p;
    if (kind == 'subscribe') {
      if (typeof opts != 'function') {
        console.error('Threadline: subscribe("' + name + '", callback) needs a function');
        return function () {};
      }
      (subs[name] = subs[name] || []).push(opts);
      if (name == 'Messenger.ready' && ready) Promise.resolve().then(function () { call(opts, name, ready); });
      return function () { var l = subs[name], i = l.indexOf(opts); if (i >= 0) l.splice(i, 1); };
    }
    if (kind == 'init') {
      if (started) p = Promise.reject(Error('Threadline: init must come before the messenger loads'));
      else {
        for (var k in name) cfg[k] = name[k];
        settle();
        p = Promise.resolve();
      }
    } else if (kind == 'command') p = command(name, opts);
    else p = Promise.reject(Error('Threadline: unknown call "' + kind + '"'));
    if (typeof ok == 'function' || typeof no == 'function') p.then(ok, no); // Genesys-style callbacks
    return p;
  }
  api.embedded = true;

  // The loader's launcher follows the settings known so far (the app's takes over on ready).
  function settle() {
    host.setAttribute('data-position', cfg.position == 'left' || cfg.position == 'start' ? 'left' : 'right');
    if (/^#[0-9a-f]{3,8}$/i.test(cfg.primaryColor)) host.style.setProperty('--tl-primary', cfg.primaryColor); // CSSOM: CSP-safe
    boot.setAttribute('aria-label', { fr: 'Ouvrir la conversation', ar: 'فتح المحادثة' }[String(cfg.locale).slice(0, 2)] || 'Open chat');
  }

  w.Threadline = api;
  if (!gen || gen.q || gen.c) w.Genesys = api; // a page written for Genesys Messenger works unchanged
  [stub && stub.q, gen && gen.q].forEach(function (q) {
    (q || []).forEach(function (args) { api.apply(null, args); });
  });
  settle();
  (function mount() {
    if (!d.body) return d.addEventListener('DOMContentLoaded', mount);
    d.body.appendChild(host);
  })();
  // Fetch the app when the page has finished loading and the browser is idle.
  var idle = function () { (w.requestIdleCallback || setTimeout).call(w, load, { timeout: 3000 }); };
  d.readyState == 'complete' ? idle() : w.addEventListener('load', idle);
})(window, document);
