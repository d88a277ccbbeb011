/* Demo host pages only (not part of the embed). Include it before the snippet:
 *  - the page URL overrides the snippet's settings: ?deploymentId=…&server=…&locale=…&theme=…&position=…
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
