/* Swagger UI for /api/v1/docs/, started from a file (the Content-Security-Policy allows no inline
   script): the schema's address and the CSRF token are read from the page (templates/drf_spectacular/
   swagger_ui.html), and the session's CSRF token goes with every request that changes something. */
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var root = document.getElementById("swagger-ui");
    window.ui = SwaggerUIBundle({
      url: root.dataset.schemaUrl,
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      // Without deep links: a link inside each operation's button is a control within a control (axe).
      deepLinking: false,
      requestInterceptor: function (request) {
        if (request.method && request.method !== "GET" && request.credentials === "same-origin") {
          request.headers[root.dataset.csrfHeader] = root.dataset.csrfToken;
        }
        return request;
      }
    });
  });
})();
