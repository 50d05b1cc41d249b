// cpor: the password forms' two helpers (the site's other script is
// static/signed-in.js). While a new password is typed, how strong it looks
// (OWASP ASVS 2.1.8); and a switch to show what was typed in a password field (2.1.12). The forms
// work without this script: the server checks every rule (and the list of
// common passwords, which is not here) and, refusing a password, says its
// strength too. The estimate is password::strength's formula: each new
// character is worth log2 of the alphabet it seems drawn from, a repeated
// one a single bit.
(function () {
  'use strict';

  var LABELS = {
    short: '太短',
    common: '太常見',
    weak: '弱',
    fair: '普通',
    strong: '強',
    very: '很強'
  };

  function strength(password, email) {
    var p = password.normalize('NFKC');
    var chars = Array.from(p);
    if (chars.length < 12) {
      return 'short';
    }
    if (email && p.toLowerCase() === email.toLowerCase()) {
      return 'common';
    }
    var alphabet = 0;
    if (/[0-9]/.test(p)) { alphabet += 10; }
    if (/[a-z]/.test(p)) { alphabet += 26; }
    if (/[A-Z]/.test(p)) { alphabet += 26; }
    if (/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/.test(p)) { alphabet += 33; }
    if (/[^\x00-\x7f]/.test(p)) { alphabet += 3000; }
    var per = Math.log2(Math.max(alphabet, 2));
    var seen = new Set();
    var bits = 0;
    chars.forEach(function (c) {
      if (seen.has(c)) {
        bits += 1;
      } else {
        seen.add(c);
        bits += per;
      }
    });
    if (bits < 40) { return 'weak'; }
    if (bits < 60) { return 'fair'; }
    if (bits < 80) { return 'strong'; }
    return 'very';
  }

  // How long typing pauses before the strength is said to a screen reader.
  var PAUSE_MS = 1000;

  // The meter: the server's, if it already said the strength, else new.
  // It shows the strength at each key, and describes the field (read when
  // it takes the focus); a screen reader is told it in a live region of
  // its own once typing pauses, and only when it changed: a live meter
  // spoke at every key over what was typed.
  function meter(input) {
    var form = input.form;
    var user = form && form.querySelector('input[autocomplete="username"]');
    var email = user ? user.value : '';
    var id = input.id + '-strength';
    var out = document.getElementById(id);
    if (!out) {
      out = document.createElement('span');
      out.id = id;
      out.className = 'strength';
      input.parentNode.insertBefore(out, input.nextSibling);
    }
    out.removeAttribute('aria-live');
    var said = document.createElement('span');
    said.id = input.id + '-strength-said';
    said.className = 'visually-hidden';
    said.setAttribute('aria-live', 'polite');
    out.parentNode.insertBefore(said, out.nextSibling);
    var timer = null;
    var last = '';
    function speak() {
      timer = null;
      if (last !== out.textContent) {
        last = out.textContent;
        said.textContent = last;
      }
    }
    input.setAttribute('aria-describedby',
      ((input.getAttribute('aria-describedby') || '') + ' ' + id).trim());
    function update() {
      if (!input.value) {
        out.textContent = '';
        out.className = 'strength';
        return;
      }
      var s = strength(input.value, email);
      out.textContent = '密碼強度：' + LABELS[s];
      out.className = 'strength s-' + s;
    }
    input.addEventListener('input', function () {
      update();
      clearTimeout(timer);
      timer = setTimeout(speak, PAUSE_MS);
    });
    update();
    // (what the page came with is read with the field, not said again)
    last = out.textContent;
  }

  // A switch after the field: shows what was typed, or hides it again.
  function shower(input) {
    var label = document.createElement('label');
    label.className = 'show';
    var box = document.createElement('input');
    box.type = 'checkbox';
    box.id = input.id + '-show';
    box.addEventListener('change', function () {
      input.type = box.checked ? 'text' : 'password';
    });
    label.appendChild(box);
    label.appendChild(document.createTextNode(' 顯示密碼'));
    var after = document.getElementById(input.id + '-strength') || input;
    after.parentNode.insertBefore(label, after.nextSibling);
    // Sent hidden: a password is never left shown in the page.
    if (input.form) {
      input.form.addEventListener('submit', function () {
        input.type = 'password';
      });
    }
  }

  function start() {
    document.querySelectorAll('input[data-strength]').forEach(meter);
    document.querySelectorAll('input[type="password"]').forEach(shower);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
