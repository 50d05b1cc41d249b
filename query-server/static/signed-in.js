// cpor: on every signed-in page. A page the browser keeps in its
// back/forward cache is not shown again as it was: after someone signs out
// on a shared computer (a court's kiosk, a law office's), Back would show
// the next person their cases, since browsers restore such pages without
// asking the server, though every signed-in page is `no-store`. So the page
// is hidden as it is put away and fetched anew, by a GET of its address,
// when it comes back: the server answers with the login page if the
// session has ended, and with fresh data if it has not. Not a reload: a
// page that answered a form (a refused password change) would be posted
// again, or the browser would ask to. The sign-out answer also sends
// `Clear-Site-Data: "cache"`, the standard's way, which not every browser
// applies to that cache.
(function () {
  'use strict';
  addEventListener('pagehide', function (e) {
    if (e.persisted) {
      document.documentElement.classList.add('put-away');
    }
  });
  addEventListener('pageshow', function (e) {
    if (e.persisted) {
      location.replace(location.href);
    }
  });
})();

// A session ends after `server.session_idle_seconds` without a request
// (30 minutes). Before it does, the page warns, in a dialog that takes the
// focus: one press of 繼續使用 asks the server (GET /account/alive, which,
// like any page, starts the idle time again) and the page goes on as it
// was, the focus back where it was. Left alone, the page says the session
// ended, and its link signs in and comes back here (WCAG 2.2.1: a time
// limit is warned of and can be extended; before, a form sent after it was
// lost without a word).
(function () {
  'use strict';
  var me = document.currentScript;
  var idle = me ? Number(me.getAttribute('data-idle')) : 0;
  var warning = document.getElementById('idle-warning');
  var ended = document.getElementById('idle-ended');
  var stay = document.getElementById('idle-stay');
  if (!(idle > 0) || !warning || !ended || !stay) {
    return;
  }
  // Two minutes' warning, or a quarter of a shorter idle time.
  var lead = Math.min(120, idle / 4);
  var warnAt = null;
  var endAt = null;
  var before = null;
  // Another tab of the site keeps the same session alive: each page (and
  // each 繼續使用) notes when it last reached the server, and a timer that
  // fires finds the latest of them before it warns or says the session
  // ended (where the browser keeps no storage, each page counts alone).
  var KEY = 'cpor-session-seen';
  var seen = Date.now();
  function note(t) {
    seen = t;
    try { localStorage.setItem(KEY, String(t)); } catch (e) { /* none kept */ }
  }
  function latest() {
    var t = seen;
    try { t = Math.max(t, Number(localStorage.getItem(KEY)) || 0); } catch (e) { /* ours */ }
    return t;
  }
  function arm() {
    clearTimeout(warnAt);
    clearTimeout(endAt);
    var left = latest() + idle * 1000 - Date.now();
    warnAt = setTimeout(warn, Math.max(0, left - lead * 1000));
    endAt = setTimeout(end, Math.max(0, left));
  }
  function warn() {
    if (latest() + (idle - lead) * 1000 > Date.now() + 1000) {
      arm();
      return;
    }
    before = document.activeElement;
    warning.hidden = false;
    stay.focus();
  }
  // The warning put away (kept alive elsewhere): the focus goes back
  // where it was, if it was in the warning.
  function putAway() {
    var inside = warning.contains(document.activeElement);
    warning.hidden = true;
    if (inside && before && before !== document.body && document.contains(before)) {
      before.focus();
    }
  }
  function end(known) {
    if (known !== true && latest() + idle * 1000 > Date.now() + 1000) {
      putAway();
      arm();
      return;
    }
    clearTimeout(warnAt);
    warning.hidden = true;
    var link = ended.querySelector('a');
    link.href = '/login?m=expired&next=' +
      encodeURIComponent(location.pathname + location.search);
    ended.hidden = false;
    link.focus();
  }
  stay.addEventListener('click', function () {
    fetch('/account/alive', { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' })
      .then(function (r) {
        // Sent to the login (a redirect) or refused: the session ended.
        // Anything else (a proxy's 502 while the server restarts, a 503,
        // a 429) says nothing of it: the warning stays, to press again.
        if (r.type === 'opaqueredirect' || r.status === 401) {
          end(true);
          return;
        }
        if (r.status !== 204) {
          return;
        }
        note(Date.now());
        putAway();
        arm();
      })
      .catch(function () {
        // The server not reached: the warning stays, to press again.
      });
  });
  // Another tab reached the server: a warning shown here is put away.
  window.addEventListener('storage', function (e) {
    if (e.key === KEY && ended.hidden) {
      putAway();
      arm();
    }
  });
  note(seen);
  arm();
})();
