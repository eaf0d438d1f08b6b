// Renders roster's OpenAPI document (/openapi.json, relative to /docs) with Swagger UI.
// Everything it loads is served by roster itself: no CDN, no online validator.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    validatorUrl: null,
    // The key given to "Authorize" is kept in the browser's local storage: it survives a reload.
    persistAuthorization: true,
  });
});
