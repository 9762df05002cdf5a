"""Response headers that protect every answer, set in one place (issue 12, finding 3).

- Caching: a response that carries personal data or tokens must not be kept by a browser's
  disk cache on a shared commune computer, nor by any proxy. Every response that does not say
  otherwise is ``no-store``. A view may choose its own ``Cache-Control`` (a static asset, a
  form version revalidated by ETag); on an authenticated or token-bearing response the choice
  is kept only if it keeps the answer out of shared caches (``private`` or ``no-store``),
  otherwise it is replaced by ``no-store``.
- Pages and scripts get a Content-Security-Policy without ``unsafe-inline`` or ``unsafe-eval``;
  every other response (JSON, problem+json, files) gets ``default-src 'none'``, so that a file
  opened directly in a tab runs nothing; PDFs only refuse framing (Chrome's viewer needs the
  rest). A view's own CSP is kept.
- Every response: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin`` (same-origin, not no-referrer: CSRF checks on HTTPS compare
  the Referer with the host).
- In production, ``Strict-Transport-Security`` (ignored by browsers over plain HTTP, so it is
  sent whatever the scheme the proxy forwarded).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

NO_STORE = "no-store"

# The policy of HTML pages (and of scripts, whose CSP governs them when they run as workers).
# Swagger UI's stylesheet draws its icons from data: URIs.
PAGE_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# Everything that is not a page or a script: nothing may load or run in it.
DATA_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
PAGE_MIMETYPES = frozenset({"text/html", "application/xhtml+xml", "text/javascript", "application/javascript"})
# PDFs the server prints: Chrome shows a PDF in a page of its own making, with an <embed> and
# inline styles that `default-src 'none'` blocks (crbug.com/271452). Only framing is refused.
PDF_POLICY = "frame-ancestors 'none'"

HSTS = "max-age=31536000"

# Public views whose answer carries tokens.
TOKEN_ENDPOINTS = frozenset({"auth.login", "auth.refresh"})

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def carries_credentials() -> bool:
    """The answer may hold personal data or tokens: the caller was authenticated, sent
    credentials, or asked for tokens."""
    return (g.get("user") is not None or "Authorization" in request.headers
            or request.endpoint in TOKEN_ENDPOINTS)


def _kept_out_of_shared_caches(cache_control: str) -> bool:
    directives = {part.strip().split("=", 1)[0].lower() for part in cache_control.split(",")}
    return bool(directives & {"no-store", "private"}) and not directives & {"public", "s-maxage"}


def apply(response: Response) -> Response:
    headers = response.headers
    chosen = headers.get("Cache-Control")
    if not chosen or (carries_credentials() and not _kept_out_of_shared_caches(chosen)):
        headers["Cache-Control"] = NO_STORE
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = (PAGE_POLICY if response.mimetype in PAGE_MIMETYPES
                                              else PDF_POLICY if response.mimetype == "application/pdf"
                                              else DATA_POLICY)
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    if current_app.config["ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def install_security_headers(app: Flask) -> None:
    # after_request runs for views, for rendered errors (problem+json, 500s) and for routing's
    # own 404/405 alike.
    app.after_request(apply)
