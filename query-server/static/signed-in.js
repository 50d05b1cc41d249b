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
//
// Two limits no press extends are warned of too, five minutes before (or
// a quarter of a shorter limit), in a dialog whose 知道了 puts it away:
// the session's absolute end, `server.session_max_seconds` (12 hours)
// after the sign-in, and the nightly maintenance window, when the site
// pauses. When each comes, the page says so, with a link back here.
// The server gives each as seconds from the page (`data-ends`,
// `data-closes`), so the computer's own clock, right or wrong, does not
// matter.
(function () {
  'use strict';
  var me = document.currentScript;
  function num(name) {
    var n = me ? Number(me.getAttribute(name)) : 0;
    return n > 0 ? n : 0;
  }
  function $(id) {
    return document.getElementById(id);
  }
  var idle = num('data-idle');
  var warning = $('idle-warning');
  var ended = $('idle-ended');
  var stay = $('idle-stay');
  if (!(idle > 0) || !warning || !ended || !stay) {
    return;
  }
  var loaded = Date.now();
  // The idle warning: two minutes, or a quarter of a shorter idle time.
  var lead = Math.min(120, idle / 4) * 1000;
  // The session's absolute end, and the maintenance window's start
  // (Infinity: none), each with its warning's lead.
  var ends = num('data-ends');
  var maxAt = ends > 0 ? loaded + ends * 1000 : Infinity;
  var maxLead = Math.min(300, num('data-max') / 4) * 1000;
  var closes = num('data-closes');
  var closing = $('closing-warning');
  var closeAt = closes > 0 && closing ? loaded + closes * 1000 : Infinity;
  var closeLead = 300 * 1000;
  var dialogs = [warning, $('max-warning'), closing].filter(Boolean);
  var told = {};
  var timers = [];
  var done = false;
  var before = null;
  // Another tab of the site keeps the same session alive: each page (and
  // each 繼續使用) notes when it last reached the server, and a timer that
  // fires finds the latest of them before it warns or says the session
  // ended (where the browser keeps no storage, each page counts alone).
  var KEY = 'cpor-session-seen';
  var seen = loaded;
  function note(t) {
    seen = t;
    try { localStorage.setItem(KEY, String(t)); } catch (e) { /* none kept */ }
  }
  function latest() {
    var t = seen;
    try { t = Math.max(t, Number(localStorage.getItem(KEY)) || 0); } catch (e) { /* ours */ }
    return t;
  }
  function at(t, f) {
    if (t < Infinity) {
      timers.push(setTimeout(f, Math.max(0, t - Date.now())));
    }
  }
  function arm() {
    timers.forEach(clearTimeout);
    timers = [];
    if (done) {
      return;
    }
    var idleAt = latest() + idle * 1000;
    var endAt = Math.min(idleAt, maxAt);
    at(endAt, end);
    // Warned of the end it is: the idle one only if it comes first.
    if (idleAt < maxAt) {
      at(idleAt - lead, warn);
    }
    if (!told.max) {
      at(maxAt - maxLead, function () { tell('max'); });
    }
    if (closeAt < endAt) {
      if (!told.closing) {
        at(closeAt - closeLead, function () { tell('closing'); });
      }
      at(closeAt, function () { finish($('closed'), location.href); });
    }
  }
  // A dialog shown, taking the focus (another shown is put away; the focus
  // to go back to is where it was before the first).
  function show(dialog, button) {
    if (!dialogs.some(function (d) { return !d.hidden; })) {
      before = document.activeElement;
    }
    dialogs.forEach(function (d) { d.hidden = d !== dialog; });
    button.focus();
  }
  // A dialog put away: the focus goes back where it was, if it was in it.
  function putAway(dialog) {
    var inside = dialog.contains(document.activeElement);
    dialog.hidden = true;
    if (inside && before && before !== document.body && document.contains(before)) {
      before.focus();
    }
  }
  function tell(which) {
    told[which] = true;
    var dialog = $(which + '-warning');
    show(dialog, $(which + '-ok'));
  }
  function warn() {
    if (latest() + (idle * 1000 - lead) > Date.now() + 1000) {
      arm();
      return;
    }
    show(warning, stay);
  }
  // The page's last word: what ended, and a link that comes back here.
  function finish(notice, href) {
    done = true;
    timers.forEach(clearTimeout);
    dialogs.forEach(function (d) { d.hidden = true; });
    var link = notice.querySelector('a');
    link.href = href;
    notice.hidden = false;
    link.focus();
  }
  function end(known) {
    var now = Date.now() + 1000;
    if (known !== true && latest() + idle * 1000 > now && maxAt > now) {
      putAway(warning);
      arm();
      return;
    }
    finish(maxAt <= now ? $('max-ended') : ended,
      '/login?m=expired&next=' + encodeURIComponent(location.pathname + location.search));
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
        putAway(warning);
        arm();
      })
      .catch(function () {
        // The server not reached: the warning stays, to press again.
      });
  });
  ['max', 'closing'].forEach(function (which) {
    var ok = $(which + '-ok');
    if (ok) {
      ok.addEventListener('click', function () { putAway($(which + '-warning')); });
    }
  });
  // Another tab reached the server: an idle warning shown here is put
  // away.
  window.addEventListener('storage', function (e) {
    if (e.key === KEY && !done) {
      if (!warning.hidden) {
        putAway(warning);
      }
      arm();
    }
  });
  note(seen);
  arm();
})();
