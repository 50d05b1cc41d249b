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
// a quarter of a shorter session limit), in a dialog whose 知道了 puts it
// away: the session's absolute end, `server.session_max_seconds` (12
// hours) after the sign-in, and the nightly maintenance window, when the
// site pauses. When each comes, the page says so, with a link back here.
// The server gives each as seconds from the page (`data-ends`,
// `data-closes`, `data-opens`), so the computer's own clock, right or
// wrong, does not matter.
//
// One dialog at a time: of those due, the idle warning first (it alone
// needs a press to keep the session), then the others, each until its
// 知道了, which the session's other pages remember (`localStorage`), so a
// page opened after it does not ask again. Whatever is due is worked out
// anew at each timer, press and other tab's use (`update`), so a timer
// late after the computer slept finds the page as it now stands.
//
// A page whose session ended hides what it showed (the cases, the
// address), leaving the notice and its link: on a shared computer the
// next person need only switch tabs (a review of the website,
// 2026-12-07). It learns of the end from its own reckoning, from 登出
// pressed in another tab of the session (at once), and, as the tab is
// shown again, from the server. What the page notes in the browser is
// keyed by its session (`data-session`, a tag of it the server gives), so
// another person's session, signed in since in the same browser, neither
// keeps it alive nor is taken for it. The nightly pause's notice leaves
// the page as it is (the session may outlast the window) until one of the
// session's ends comes, or a sign-out in another tab: they still hide it.
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
  var tag = (me && me.getAttribute('data-session')) || '';
  var mine = tag ? '-' + tag : '';
  var warning = $('idle-warning');
  var ended = $('idle-ended');
  var stay = $('idle-stay');
  if (!(idle > 0) || !warning || !ended || !stay) {
    return;
  }
  var loaded = Date.now();
  function after(seconds) {
    return seconds > 0 ? loaded + seconds * 1000 : Infinity;
  }
  // The idle warning: two minutes, or a quarter of a shorter idle time.
  var lead = Math.min(120, idle / 4) * 1000;
  // The session's absolute end, and the maintenance window's start and
  // end (Infinity: none).
  var maxAt = after(num('data-ends'));
  var maxLead = Math.min(300, num('data-max') / 4) * 1000;
  var closing = $('closing-warning');
  var openAt = closing ? after(num('data-opens')) : Infinity;
  var limits = {
    max: { at: maxAt, lead: maxLead, dialog: $('max-warning'), ok: $('max-ok') },
    closing: {
      at: closing ? after(num('data-closes')) : Infinity,
      lead: 300 * 1000,
      dialog: closing,
      ok: $('closing-ok')
    }
  };
  var dialogs = [warning, limits.max.dialog, closing].filter(Boolean);
  var timer = null;
  var done = false;
  // The server said the session ended (a sign-out elsewhere, say).
  var over = false;
  var before = null;
  // Another tab of the site keeps the same session alive: each page (and
  // each 繼續使用) notes when it last reached the server, and the page
  // finds the latest of them before it warns or says the session ended
  // (where the browser keeps no storage, each page counts alone).
  var KEY = 'cpor-session-seen' + mine;
  // 登出 pressed on another page of the session.
  var OUT = 'cpor-signed-out' + mine;
  var ALIVE = '/account/alive' + (tag ? '?s=' + encodeURIComponent(tag) : '');
  var seen = loaded;
  function stored(key) {
    try { return Number(localStorage.getItem(key)) || 0; } catch (e) { return 0; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, String(value)); } catch (e) { /* none kept */ }
  }
  function note(t) {
    seen = t;
    store(KEY, t);
  }
  function latest() {
    return Math.max(seen, stored(KEY));
  }
  // A limit's 知道了, remembered by its time (another page's reckoning of
  // the same end differs by its load's delay, a few seconds at most).
  var acked = {};
  function ackKey(name) {
    return 'cpor-acked-' + name + mine;
  }
  function isAcked(name) {
    return acked[name] || Math.abs(stored(ackKey(name)) - limits[name].at) < 10000;
  }
  // The site paused (the nightly window): said once; the session's ends
  // are still reckoned, and hide the page when one comes (sign-out works
  // in the window).
  var paused = false;
  // What is due now: the page's last word, or the dialog to show.
  function update() {
    clearTimeout(timer);
    if (done) {
      return;
    }
    var now = Date.now();
    var idleAt = latest() + idle * 1000;
    var login = '/login?m=expired&next=' + encodeURIComponent(location.pathname + location.search);
    if (now >= maxAt) {
      finish($('max-ended'), login);
      return;
    }
    if (over) {
      finish($('signed-out') || ended, login);
      return;
    }
    if (now >= idleAt) {
      finish(ended, login);
      return;
    }
    if (now >= openAt) {
      // The whole window passed (the computer asleep): nothing to say of it.
      limits.closing.at = openAt = Infinity;
    }
    if (paused || now >= limits.closing.at) {
      // (the session may outlast the pause: the page stays, until an end)
      if (!paused) {
        paused = true;
        say($('closed'), location.href);
      }
      var end = Math.min(idleAt, maxAt);
      if (end < Infinity) {
        timer = setTimeout(update, Math.min(end - now, 2147483647));
      }
      return;
    }
    var endAt = Math.min(idleAt, maxAt);
    var due = null;
    var next = [endAt, limits.closing.at];
    if (idleAt < maxAt) {
      if (now >= idleAt - lead) {
        due = [warning, stay];
      }
      next.push(idleAt - lead);
    }
    ['max', 'closing'].forEach(function (name) {
      var l = limits[name];
      // (the window warned of only if the session lasts until it)
      if (!l.dialog || (name === 'closing' && l.at >= endAt) || isAcked(name)) {
        return;
      }
      if (now >= l.at - l.lead) {
        due = due || [l.dialog, l.ok];
      }
      next.push(l.at - l.lead);
    });
    if (due) {
      show(due[0], due[1]);
    } else {
      dialogs.forEach(function (d) { if (!d.hidden) { putAway(d); } });
    }
    var wake = Math.min.apply(null, next.filter(function (t) { return t > now; }));
    if (wake < Infinity) {
      // (setTimeout fires at once past 2^31 - 1 ms: a later time is
      // reached in steps)
      timer = setTimeout(update, Math.min(wake - now, 2147483647));
    }
  }
  // A dialog shown, taking the focus (another shown is put away; the focus
  // to go back to is where it was before the first).
  function show(dialog, button) {
    if (!dialog.hidden) {
      return;
    }
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
  // A notice shown in place of any dialog, its link set and focused.
  function say(notice, href) {
    dialogs.forEach(function (d) { d.hidden = true; });
    var link = notice.querySelector('a');
    link.href = href;
    notice.hidden = false;
    link.focus();
  }
  // The page's last word: the session ended, with a link that comes back
  // here; what the page showed hidden (`signed-out`), its title too (a
  // case's court and number in the tab strip and the history).
  function finish(notice, href) {
    done = true;
    clearTimeout(timer);
    var closed = $('closed');
    if (closed) {
      closed.hidden = true;
    }
    document.documentElement.classList.add('signed-out');
    document.title = '案件進度線上查詢服務';
    say(notice, href);
  }
  // Asks the server whether the page's session lives (and, as any page
  // does, starts its idle time again); then `then`, if it does.
  function ask(then) {
    fetch(ALIVE, { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' })
      .then(function (r) {
        // Sent to the login (a redirect) or refused: the session ended,
        // or is not the browser's now. Anything else (a proxy's 502 while
        // the server restarts, a 503, a 429) says nothing of it: the
        // warning stays, to press again.
        if (r.type === 'opaqueredirect' || r.status === 401) {
          over = true;
          update();
          return;
        }
        if (r.status !== 204) {
          return;
        }
        note(Date.now());
        then();
        update();
      })
      .catch(function () {
        // The server not reached: as it was.
      });
  }
  stay.addEventListener('click', function () {
    ask(function () { putAway(warning); });
  });
  // Shown again (another tab was in front, the computer woke): asked, at
  // most once in ten seconds.
  var shownAt = loaded;
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState !== 'visible' || done || Date.now() - shownAt < 10000) {
      return;
    }
    shownAt = Date.now();
    ask(function () {});
  });
  // 登出 here: the session's other pages are told.
  Array.prototype.forEach.call(document.querySelectorAll('form[action$="logout"]'), function (f) {
    f.addEventListener('submit', function () { store(OUT, Date.now()); });
  });
  ['max', 'closing'].forEach(function (name) {
    var l = limits[name];
    if (l.ok) {
      l.ok.addEventListener('click', function () {
        acked[name] = true;
        store(ackKey(name), l.at);
        putAway(l.dialog);
        update();
      });
    }
  });
  // Another tab reached the server, or said 知道了, or 登出: worked out
  // anew.
  window.addEventListener('storage', function (e) {
    if (e.key === OUT && e.newValue) {
      over = true;
    }
    if (e.key === KEY || e.key === OUT || (e.key || '').indexOf('cpor-acked-') === 0) {
      update();
    }
  });
  // What earlier sessions noted, a day old (a session lasts 12 hours at
  // most), is let go: each note is a time.
  try {
    for (var i = localStorage.length - 1; i >= 0; i--) {
      var k = localStorage.key(i);
      if (k && k.indexOf('cpor-') === 0 && stored(k) < loaded - 86400000) {
        localStorage.removeItem(k);
      }
    }
  } catch (e) { /* none kept */ }
  note(seen);
  update();
})();
