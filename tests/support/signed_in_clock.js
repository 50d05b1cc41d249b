// Runs query-server/static/signed-in.js's warnings on a fake clock and a
// fake page, and checks what a person at the keyboard sees: which dialog
// or notice is shown when, where the focus is, after presses, another
// tab's use, and a computer that slept. Exit 0 when every scenario holds;
// otherwise each failure is printed and the exit is 1.
//
//   node signed_in_clock.js <path of signed-in.js>
'use strict';
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');

// A page loaded at second 0 with the script's data attributes `attrs`,
// sharing `shared` (localStorage) with the other pages of the browser.
function page(attrs, opts = {}) {
  const shared = opts.shared || { store: {}, pages: [] };
  const clock = opts.clock || { now: 1e12 };
  const t0 = clock.now;
  let timers = [];
  let nextId = 1;
  const els = {};
  let active = null;
  function el(id, parent) {
    const e = {
      id, hidden: true, children: [], parent, href: '', listeners: {},
      focus() { active = e; },
      contains(x) { for (let y = x; y; y = y.parent) { if (y === e) return true; } return false; },
      querySelector(tag) { return e.children.find((c) => c.tag === tag) || null; },
      addEventListener(type, f) { e.listeners[type] = f; },
    };
    if (parent) parent.children.push(e);
    els[id] = e;
    return e;
  }
  const body = el('body');
  body.hidden = false;
  const field = el('field', body);
  field.hidden = false;
  active = field;
  const dialog = (id, button) => { const d = el(id, body); el(button, d); };
  const notice = (id) => { const d = el(id, body); const a = el(id + ' a', d); a.tag = 'a'; a.hidden = false; };
  dialog('idle-warning', 'idle-stay');
  notice('idle-ended');
  notice('signed-out');
  dialog('max-warning', 'max-ok');
  notice('max-ended');
  if (opts.window !== false) {
    dialog('closing-warning', 'closing-ok');
    notice('closed');
  }
  let storageListener = null;
  let visibilityListener = null;
  const classes = new Set();
  const asked = [];
  // The header's 登出 form.
  const logout = { action: 'http://cpor.test/logout', listeners: {},
    addEventListener(type, f) { this.listeners[type] = f; } };
  const me = { attrs, getAttribute(n) { return n in this.attrs ? String(this.attrs[n]) : null; } };
  const g = {
    Date: { now: () => clock.now },
    setTimeout(f, d) {
      d = Number(d) || 0;
      // As browsers do: a delay past 2^31 - 1 ms fires at once.
      if (d > 2147483647 || d < 0) d = 0;
      const id = nextId++;
      timers.push({ id, at: clock.now + d, f });
      return id;
    },
    clearTimeout(id) { timers = timers.filter((t) => t.id !== id); },
    document: {
      currentScript: me, body,
      getElementById: (id) => els[id] || null,
      get activeElement() { return active; },
      contains: () => true,
      documentElement: { classList: { add(c) { classes.add(c); } } },
      visibilityState: 'visible',
      title: '臺灣臺北地方法院 民事 115年度訴字第100號｜案件進度線上查詢服務',
      querySelectorAll: (css) => (css.includes('logout') ? [logout] : []),
      addEventListener(type, f) { if (type === 'visibilitychange') visibilityListener = f; },
    },
    localStorage: {
      getItem: (k) => (k in shared.store ? shared.store[k] : null),
      setItem(k, v) {
        shared.store[k] = String(v);
        // (other pages hear of it, as browsers tell them)
        for (const p of shared.pages) { if (p !== api) p.heard(k, String(v)); }
      },
      removeItem(k) { delete shared.store[k]; },
      get length() { return Object.keys(shared.store).length; },
      key: (i) => Object.keys(shared.store)[i] || null,
    },
    addEventListener() {},
    window: { addEventListener(type, f) { if (type === 'storage') storageListener = f; } },
    location: { href: 'http://cpor.test/account', pathname: '/account', search: '' },
    fetch: (url) => {
      asked.push(url);
      return Promise.resolve(opts.alive ? opts.alive() : { type: 'basic', status: 204 });
    },
  };
  const api = {
    els,
    heard(key, newValue) { if (storageListener) storageListener({ key, newValue }); },
    // Whether the page's content is hidden (`signed-out` on the root).
    hidden: () => classes.has('signed-out'),
    title: () => g.document.title,
    // The addresses the page asked the server.
    asked: () => asked.slice(),
    // 登出 pressed on this page (the form is sent; the page goes).
    signOut() { if (logout.listeners.submit) logout.listeners.submit(); },
    // The tab hidden, then shown again `seconds` after the load.
    async reshow(seconds) {
      g.document.visibilityState = 'hidden';
      if (visibilityListener) visibilityListener();
      clock.now = t0 + seconds * 1000;
      g.document.visibilityState = 'visible';
      if (visibilityListener) visibilityListener();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    },
    // What is shown of the dialogs and notices.
    shown() {
      return Object.values(els)
        .filter((e) => /warning|ended|closed|signed-out/.test(e.id) && !e.hidden && e.tag !== 'a')
        .map((e) => e.id).join(',') || '-';
    },
    focus() { return active && active.id; },
    // Runs this page's timers due by `seconds` after its load.
    run(seconds) {
      const end = t0 + seconds * 1000;
      for (;;) {
        timers.sort((a, b) => a.at - b.at || a.id - b.id);
        const t = timers[0];
        if (!t || t.at > end) break;
        timers.shift();
        clock.now = Math.max(clock.now, t.at);
        t.f();
      }
      clock.now = Math.max(clock.now, end);
    },
    // The computer asleep until `seconds` after the load: no timer runs.
    sleep(seconds) { clock.now = t0 + seconds * 1000; },
    async press(id) {
      els[id].listeners.click();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    },
    timers: () => timers.length,
    link(notice) { return els[notice + ' a'].href; },
  };
  shared.pages.push(api);
  new Function(...Object.keys(g), src)(...Object.values(g));
  return api;
}

const failures = [];
function expect(what, got, want) {
  if (got !== want) failures.push(`${what}: got ${got}, want ${want}`);
}

const MIN = 60;
async function main() {
  // The idle warning two minutes before the idle end; 繼續使用 keeps the
  // session; left alone, the idle end.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600 });
    p.run(27 * MIN);
    expect('idle: nothing before the warning', p.shown(), '-');
    p.run(28 * MIN);
    expect('idle: warned two minutes before', p.shown(), 'idle-warning');
    expect('idle: the focus on 繼續使用', p.focus(), 'idle-stay');
    await p.press('idle-stay');
    expect('idle: 繼續使用 puts the warning away', p.shown(), '-');
    expect('idle: the focus back', p.focus(), 'field');
    p.run(28 * MIN + 30 * MIN);
    expect('idle: left alone, the end', p.shown(), 'idle-ended');
    expect('idle: the focus on its link', p.focus(), 'idle-ended a');
    expect('idle: its link signs in and comes back', p.link('idle-ended'), '/login?m=expired&next=%2Faccount');
  }
  // The review of the fifty-first session's change, its 1: the absolute
  // end's warning came during the idle warning and hid it; its 知道了
  // left no 繼續使用, and the idle end came without a press possible.
  // The idle warning stays first; the other waits its turn.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 34 * MIN });
    p.run(29 * MIN + 10);
    expect('both due: the idle warning stays', p.shown(), 'idle-warning');
    await p.press('idle-stay');
    expect('then the absolute end\'s', p.shown(), 'max-warning');
    expect('its button has the focus', p.focus(), 'max-ok');
    await p.press('max-ok');
    expect('知道了 puts it away', p.shown(), '-');
    p.run(34 * MIN - 1);
    expect('no idle end meanwhile', p.shown(), '-');
    p.run(34 * MIN + 1);
    expect('the absolute end said', p.shown(), 'max-ended');
  }
  // Its 2: the absolute end's warning, put away by the idle warning, was
  // taken as told; 繼續使用 left no warning of the end four minutes on.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 31 * MIN });
    p.run(26 * MIN + 10);
    expect('the absolute end warned of first', p.shown(), 'max-warning');
    p.run(28 * MIN + 10);
    expect('the idle warning, more urgent, in its place', p.shown(), 'idle-warning');
    await p.press('idle-stay');
    expect('after 繼續使用 the absolute end is warned of again', p.shown(), 'max-warning');
  }
  // Its 3: a computer asleep through the whole maintenance window woke
  // to "the site has paused", open again by then, and the session, ended,
  // unsaid. (Opened at 00:20; the window 00:30 to 03:00; awake at 09:00.)
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600,
      'data-closes': 10 * MIN, 'data-opens': 160 * MIN });
    p.run(MIN);
    p.sleep(520 * MIN);
    p.run(520 * MIN + 1);
    expect('asleep through the window: the idle end', p.shown(), 'idle-ended');
  }
  // The window itself: warned five minutes before, said when it came.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600,
      'data-closes': 10 * MIN, 'data-opens': 160 * MIN });
    p.run(5 * MIN - 1);
    expect('window: nothing yet', p.shown(), '-');
    p.run(5 * MIN + 1);
    expect('window: warned', p.shown(), 'closing-warning');
    await p.press('closing-ok');
    p.run(10 * MIN + 1);
    expect('window: said when it came', p.shown(), 'closed');
    expect('window: the link comes back here', p.link('closed'), 'http://cpor.test/account');
  }
  // Its 4: a session limit past 24.8 days (2^31 ms) made the warning
  // fire at once on every page.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 30 * 86400, 'data-ends': 30 * 86400 });
    p.run(1);
    expect('a month-long limit: no warning at once', p.shown(), '-');
  }
  // Its 7: every page opened in the last five minutes asked again, the
  // focus taken from it, after 知道了 on another page.
  {
    const shared = { store: {}, pages: [] };
    const clock = { now: 1e12 };
    const attrs = { 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 10 * MIN };
    const first = page(attrs, { shared, clock });
    first.run(5 * MIN + 1);
    expect('first page warned', first.shown(), 'max-warning');
    await first.press('max-ok');
    const second = page({ ...attrs, 'data-ends': 10 * MIN - (5 * 60 + 1) - 1 }, { shared, clock });
    second.run(1);
    expect('a page opened after 知道了 does not ask again', second.shown(), '-');
    expect('its focus stays', second.focus(), 'field');
  }
  // Another tab's use keeps the session: the warning here put away.
  {
    const shared = { store: {}, pages: [] };
    const clock = { now: 1e12 };
    const attrs = { 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600 };
    const first = page(attrs, { shared, clock });
    first.run(28 * MIN + 10);
    expect('tabs: warned', first.shown(), 'idle-warning');
    page(attrs, { shared, clock });
    expect('tabs: another page loaded puts the warning away', first.shown(), '-');
    first.run(50 * MIN);
    expect('tabs: no end while the other page counts', first.shown(), '-');
  }
  // The server says the session ended (signed out elsewhere): said so.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600 },
      { alive: () => ({ type: 'opaqueredirect', status: 0 }) });
    p.run(28 * MIN + 10);
    await p.press('idle-stay');
    expect('ended elsewhere: said', p.shown(), 'signed-out');
    expect('ended elsewhere: hidden', p.hidden(), true);
  }
  // The review of the website of 2026-12-07, its 1: a page whose session
  // ended kept its cases on screen, under a bar; a sign-out in another tab
  // left the others as they were; and another person's use of the browser
  // (their session's pages) kept the first's page from ever ending.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600, 'data-session': 'aa' });
    p.run(30 * MIN + 1);
    expect('ended: said', p.shown(), 'idle-ended');
    expect('ended: the page\'s content hidden', p.hidden(), true);
  }
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600,
      'data-closes': 10 * MIN, 'data-opens': 160 * MIN, 'data-session': 'aa' });
    p.run(10 * MIN + 1);
    expect('paused: said', p.shown(), 'closed');
    expect('paused: the session not over, the page stays', p.hidden(), false);
  }
  {
    const shared = { store: {}, pages: [] };
    const clock = { now: 1e12 };
    const attrs = { 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600, 'data-session': 'aa' };
    const left = page(attrs, { shared, clock });
    const other = page(attrs, { shared, clock });
    left.run(MIN);
    other.signOut();
    expect('signed out in another tab: said here at once', left.shown(), 'signed-out');
    expect('signed out in another tab: hidden here', left.hidden(), true);
    expect('signed out in another tab: the focus on its link', left.focus(), 'signed-out a');
  }
  {
    const shared = { store: {}, pages: [] };
    const clock = { now: 1e12 };
    const a = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600, 'data-session': 'aa' },
      { shared, clock });
    // Another person signs in and uses the browser every ten minutes.
    for (let m = 5; m <= 55; m += 10) {
      clock.now = 1e12 + m * MIN * 1000;
      page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600, 'data-session': 'bb' },
        { shared, clock });
    }
    a.run(30 * MIN + 1);
    expect('another session\'s pages do not keep this one', a.shown(), 'idle-ended');
    expect('and it is hidden', a.hidden(), true);
  }
  {
    // Shown again after the browser signed in as someone else: the server
    // says this page's session is not the browser's.
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600, 'data-session': 'aa' },
      { alive: () => ({ type: 'basic', status: 401 }) });
    await p.reshow(3 * MIN);
    expect('shown again: the server asked of this session', p.asked().join(), '/account/alive?s=aa');
    expect('shown again, ended: said', p.shown(), 'signed-out');
    expect('shown again, ended: hidden', p.hidden(), true);
  }
  {
    // Shown again while the session lives: it goes on, and counts as use.
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600, 'data-session': 'aa' });
    await p.reshow(20 * MIN);
    p.run(45 * MIN);
    expect('shown again, alive: no end 30 minutes after the load', p.shown(), '-');
    expect('shown again, alive: not hidden', p.hidden(), false);
  }
  // The review of the change (its 3, 4, 5): a page that had shown the
  // pause notice stopped its reckoning, so it never hid, idle or signed
  // out elsewhere (sign-out works in the pause now); a 知道了 was kept for
  // the next session in the browser; a hidden page kept the case in its
  // title.
  {
    const attrs = { 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600,
      'data-closes': 10 * MIN, 'data-opens': 160 * MIN, 'data-session': 'aa' };
    const p = page(attrs);
    p.run(10 * MIN + 1);
    expect('paused, then idle: the pause said', p.shown(), 'closed');
    p.run(30 * MIN + 1);
    expect('paused, then idle: the end said', p.shown(), 'idle-ended');
    expect('paused, then idle: hidden', p.hidden(), true);
    expect('hidden: the title the site\'s alone', p.title(), '案件進度線上查詢服務');
  }
  {
    const shared = { store: {}, pages: [] };
    const clock = { now: 1e12 };
    const attrs = { 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600,
      'data-closes': 10 * MIN, 'data-opens': 160 * MIN, 'data-session': 'aa' };
    const left = page(attrs, { shared, clock });
    const other = page(attrs, { shared, clock });
    left.run(11 * MIN);
    expect('paused: said', left.shown(), 'closed');
    other.signOut();
    expect('paused, signed out in another tab: said', left.shown(), 'signed-out');
    expect('paused, signed out in another tab: hidden', left.hidden(), true);
  }
  {
    const shared = { store: {}, pages: [] };
    const clock = { now: 1e12 };
    const attrs = (tag) => ({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600,
      'data-closes': 10 * MIN, 'data-opens': 160 * MIN, 'data-session': tag });
    const a = page(attrs('aa'), { shared, clock });
    a.run(5 * MIN + 1);
    expect('aa warned of the pause', a.shown(), 'closing-warning');
    await a.press('closing-ok');
    const b = page({ ...attrs('bb'), 'data-closes': 10 * MIN - (5 * 60 + 1) }, { shared, clock });
    b.run(1);
    expect('bb, another session, warned all the same', b.shown(), 'closing-warning');
  }
  // No window configured: no dialog for it, nothing breaks.
  {
    const p = page({ 'data-idle': 30 * MIN, 'data-max': 12 * 3600, 'data-ends': 12 * 3600 }, { window: false });
    p.run(28 * MIN + 10);
    expect('no window: the idle warning as ever', p.shown(), 'idle-warning');
  }
  if (failures.length) {
    console.log(failures.join('\n'));
    process.exit(1);
  }
  console.log('every scenario holds');
}
main().catch((e) => { console.log(String(e && e.stack || e)); process.exit(1); });
