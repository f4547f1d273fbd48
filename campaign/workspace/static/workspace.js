// The workspace's only script of its own (no inline script: the Content-Security-Policy
// allows scripts from this server only). htmx sends the session's CSRF token, read from
// the page's <meta name="csrf-token">, with every request it makes.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
});
