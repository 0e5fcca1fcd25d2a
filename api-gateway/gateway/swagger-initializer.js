// Swagger UI for the merged document. A file, not an inline script, so that the page's
// Content-Security-Policy can refuse every inline script.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The base layout has no top bar: the page shows this document and no other.
    layout: "BaseLayout",
    // Never send the document to the public validator (and no request leaves the origin).
    validatorUrl: null,
  });
});
