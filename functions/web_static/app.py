"""Serves the web dashboard (the React app built into `dist/` by `make web`) at /app/ on the API's own origin.

Hashed assets (`/app/assets/*`) are cached for a year and sent precompressed (brotli or gzip, chosen by the
request's Accept-Encoding: the HTTP API compresses nothing); `index.html` and the runtime `/app/config.json`
(API base, auth mode, sign-in URLs, client id) are never cached. Every answer carries the
Content-Security-Policy `default-src 'self'`, plus the identity provider's origin in `connect-src` and
`form-action` when one is set.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

DIST = Path(os.environ.get("WEB_DIST_DIR") or Path(__file__).resolve().parent / "dist")
PREFIX = "/app"
YEAR = "public, max-age=31536000, immutable"
NEVER = "no-store"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".map": "application/json",
}
_COMPRESSIBLE = (".js", ".css", ".html", ".json", ".svg", ".map")


def runtime_config() -> dict[str, Any]:
    """What the app needs at run time, from the function's environment (never baked into the build)."""
    env = os.environ
    return {
        "api_base": env.get("WEB_API_BASE", ""),
        "auth_mode": env.get("WEB_AUTH_MODE", "cognito"),
        "authorize_url": env.get("WEB_AUTHORIZE_URL", ""),
        "token_url": env.get("WEB_TOKEN_URL", ""),
        "logout_url": env.get("WEB_LOGOUT_URL", ""),
        "client_id": env.get("WEB_CLIENT_ID", ""),
        "scopes": env.get("WEB_SCOPES", "openid"),
        "cognito_domain": identity_origin(),
        "routes": api_routes(),
    }


def api_routes() -> list[str] | None:
    """The API's route keys (`GET /strategies/{id}`), written beside the build from template.yaml; None when
    absent (the app then asks every route and treats API Gateway's bare 404 as not available)."""
    try:
        routes = json.loads((DIST / "api-routes.json").read_text())
    except (OSError, ValueError):
        return None
    return [str(r) for r in routes] if isinstance(routes, list) else None


def identity_origin() -> str:
    """The identity provider's origin (scheme://host) from its authorize URL; empty when same-origin."""
    url = os.environ.get("WEB_AUTHORIZE_URL", "")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("https", "http") and parts.netloc else ""


def content_security_policy() -> str:
    policy = "default-src 'self'"
    origin = identity_origin()
    if origin:
        policy += f"; connect-src 'self' {origin}; form-action 'self' {origin}"
    return policy


def _headers(content_type: str, cache: str) -> dict[str, str]:
    return {
        "content-type": content_type,
        "cache-control": cache,
        "content-security-policy": content_security_policy(),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


def _text(status: int, body: str, content_type: str, cache: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": _headers(content_type, cache),
        "body": body,
        "isBase64Encoded": False,
    }


def _accepts(header: str, coding: str) -> bool:
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == coding:
            q = params.strip()
            return not (q.startswith("q=") and float(q[2:] or 0) == 0)
    return False


def _asset(relative: str, accept_encoding: str) -> dict[str, Any] | None:
    """A file of dist/ (never outside it), precompressed when the client accepts it; None when absent."""
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("..", ".") or p.startswith(".") for p in parts):
        return None
    path = DIST.joinpath(*parts)
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    hashed = parts[0] == "assets"
    headers = _headers(content_type, YEAR if hashed else NEVER)
    body = path
    if suffix in _COMPRESSIBLE:
        headers["vary"] = "accept-encoding"
        for coding, ext in (("br", ".br"), ("gzip", ".gz")):
            candidate = path.with_name(path.name + ext)
            if _accepts(accept_encoding, coding) and candidate.is_file():
                headers["content-encoding"] = coding
                body = candidate
                break
    return {
        "statusCode": 200,
        "headers": headers,
        "body": base64.b64encode(body.read_bytes()).decode(),
        "isBase64Encoded": True,
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raw_path = str(event.get("rawPath") or "/")
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()
    if method not in ("GET", "HEAD"):
        return _text(405, '{"message":"Method Not Allowed"}', "application/json", NEVER)
    relative = raw_path[len(PREFIX) + 1 :] if raw_path.startswith(PREFIX + "/") else ""
    if relative == "config.json":
        return _text(200, json.dumps(runtime_config()), "application/json", NEVER)
    accept = str((event.get("headers") or {}).get("accept-encoding", ""))
    if relative and relative != "index.html":
        found = _asset(relative, accept)
        if found is not None:
            return found
        parts = PurePosixPath(relative).parts
        if (
            relative.startswith("assets/")
            or PurePosixPath(relative).suffix
            or any(p.startswith(".") for p in parts)
        ):
            return _text(404, '{"message":"Not Found"}', "application/json", NEVER)
    # every other path is a page of the single-page app: its index, never cached
    index = _asset("index.html", accept)
    if index is None:
        return _text(
            503,
            "<!doctype html><title>Autopilot</title>"
            "<p>The dashboard is not built: run <code>make web</code>.</p>",
            "text/html; charset=utf-8",
            NEVER,
        )
    return index
