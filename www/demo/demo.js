/* Demo host pages only (not part of the embed). Include it before the snippet:
 *  - the page URL overrides the snippet's settings: ?deploymentId=…&server=…&locale=…&theme=…&position=…
 *    (kept in sessionStorage for the sign-in round trip: the identity provider redirects back to
 *    the page without them, with ?code=…&state=…, and the page must boot the same messenger);
 *  - with data-load-from-server it loads the loader from the messenger's server (cross-origin.html);
 *  - the page lists the messenger's events (#events) and any Content-Security-Policy violation
 *    (#csp), also kept in window.threadlineDemo for tests. */
(function () {
  var me = document.currentScript;
  window.Threadline = window.Threadline || function () { (Threadline.q = Threadline.q || []).push(arguments); };
  var demo = (window.threadlineDemo = { violations: [], events: [] });

  document.addEventListener('securitypolicyviolation', function (e) {
    demo.violations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline code') + ' (' + (e.sourceFile || 'page') + ':' + e.lineNumber + ')');
    show();
  });

  var query = new URLSearchParams(location.search);
  var settings = {};
  ['deploymentId', 'server', 'locale', 'theme', 'position'].forEach(function (key) {
    var value = query.get(key);
    if (value) settings[key] = value;
  });
  // Saved only as the page is left (the messenger writes no storage before first use, and
  // neither does its demo page), restored only on a return from the identity provider.
  var saved = 'threadline-demo:settings:' + location.pathname;
  try {
    if (!Object.keys(settings).length && query.has('state') && (query.has('code') || query.has('error'))) {
      settings = JSON.parse(sessionStorage.getItem(saved)) || {};
    }
  } catch (e) {
    // No sessionStorage (or a broken entry): the snippet's own settings apply.
  }
  addEventListener('pagehide', function () {
    try {
      if (Object.keys(settings).length) sessionStorage.setItem(saved, JSON.stringify(settings));
    } catch (e) {
      // Nothing to keep them in: a sign-in round trip falls back to the snippet's settings.
    }
  });
  demo.settings = settings;

  if (me && me.hasAttribute('data-load-from-server')) {
    // The messenger's server is another origin: by default the other loopback name of this
    // page's own server (open the page at localhost, the messenger comes from 127.0.0.1).
    var here = new URL(location.href);
    var other = { localhost: '127.0.0.1', '127.0.0.1': 'localhost' }[here.hostname];
    var server = settings.server || (other ? here.protocol + '//' + other + (here.port ? ':' + here.port : '') : here.origin);
    settings.server = server;
    var loader = document.createElement('script');
    loader.async = true;
    loader.src = server.replace(/\/+$/, '') + '/threadline.js';
    document.head.appendChild(loader);
    demo.server = server;
  }

  Threadline('init', settings);
  [
    'Messenger.ready', 'Messenger.opened', 'Messenger.closed', 'MessagingService.messagesReceived',
    'MessagingService.unreadCount', 'Conversations.started', 'Conversations.closed', 'Session.expiring',
    'Session.expired', 'Connection.disconnected', 'Connection.reconnected', 'Connection.stateChanged'
  ].forEach(function (name) {
    Threadline('subscribe', name, function (e) {
      demo.events.push(e);
      show();
    });
  });

  function show() {
    if (document.readyState == 'loading') return;
    var csp = document.getElementById('csp');
    if (csp) csp.textContent = demo.violations.length ? demo.violations.join('\n') : 'none';
    var list = document.getElementById('events');
    if (!list) return;
    list.textContent = '';
    demo.events.slice(-12).forEach(function (e) {
      var item = document.createElement('li');
      item.textContent = e.event + ' ' + JSON.stringify(e.data);
      list.appendChild(item);
    });
  }
  document.addEventListener('DOMContentLoaded', show);
})();
