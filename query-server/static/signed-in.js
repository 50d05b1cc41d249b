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
