// Starts Swagger UI on /api/docs from an external file: the page's CSP allows no inline script.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var config = {
    url: container.dataset.specUrl,
    domNode: container,
    // No badge from validator.swagger.io: the server works offline, and the CSP allows no
    // image from elsewhere.
    validatorUrl: null
  };
  var overrides = JSON.parse(container.dataset.config || "{}");
  Object.keys(overrides).forEach(function (name) { config[name] = overrides[name]; });
  window.ui = SwaggerUIBundle(config);
})();
