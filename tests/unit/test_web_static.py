"""The dashboard's static function: hashed assets cached a year and sent precompressed by Accept-Encoding,
index.html and config.json never cached, the CSP on every answer, single-page routes served the index, and
nothing outside the build folder."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from functions.web_static import app as web


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><p>app</p>")
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(b"<!doctype html><p>app</p>"))
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(b"console.log(1)"))
    (tmp_path / "assets" / "index-abc123.js.br").write_bytes(b"brotli-bytes")
    (tmp_path / "api-routes.json").write_text('["GET /strategies"]')
    (tmp_path.parent / "secret.txt").write_text("outside")
    monkeypatch.setattr(web, "DIST", tmp_path)
    for key in ("WEB_AUTHORIZE_URL", "WEB_TOKEN_URL", "WEB_CLIENT_ID", "WEB_AUTH_MODE"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def get(path: str, accept_encoding: str = "", method: str = "GET") -> dict[str, Any]:
    event = {
        "version": "2.0",
        "rawPath": path,
        "headers": {"accept-encoding": accept_encoding} if accept_encoding else {},
        "requestContext": {"http": {"method": method, "path": path}},
    }
    return web.lambda_handler(event, None)


def body_of(answer: dict[str, Any]) -> bytes:
    raw = answer["body"]
    return base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()


def test_hashed_assets_are_cached_a_year_and_sent_brotli_then_gzip_as_accepted(dist: Path) -> None:
    # When
    brotli = get("/app/assets/index-abc123.js", "gzip, deflate, br")
    gzipped = get("/app/assets/index-abc123.js", "gzip, br;q=0")
    plain = get("/app/assets/index-abc123.js")
    # Then
    assert brotli["headers"]["cache-control"] == "public, max-age=31536000, immutable"
    assert (brotli["headers"]["content-encoding"], body_of(brotli)) == ("br", b"brotli-bytes")
    assert gzipped["headers"]["content-encoding"] == "gzip"
    assert gzip.decompress(body_of(gzipped)) == b"console.log(1)"
    assert "content-encoding" not in plain["headers"] and body_of(plain) == b"console.log(1)"
    assert plain["headers"]["content-type"].startswith("text/javascript")
    assert brotli["headers"]["vary"] == "accept-encoding"


def test_the_index_and_every_app_route_are_never_cached(dist: Path) -> None:
    # When
    answers = [get("/app"), get("/app/"), get("/app/strategies/abc"), get("/app/overview")]
    # Then
    for answer in answers:
        assert answer["statusCode"] == 200
        assert answer["headers"]["cache-control"] == "no-store"
        assert body_of(answer) == b"<!doctype html><p>app</p>"


def test_the_runtime_config_names_the_sign_in_and_the_csp_adds_only_the_identity_domain(
    dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployed configuration
    domain = "https://autopilot.auth.eu-west-1.amazoncognito.com"
    monkeypatch.setenv("WEB_AUTH_MODE", "cognito")
    monkeypatch.setenv("WEB_AUTHORIZE_URL", f"{domain}/oauth2/authorize")
    monkeypatch.setenv("WEB_TOKEN_URL", f"{domain}/oauth2/token")
    monkeypatch.setenv("WEB_CLIENT_ID", "client-123")
    # When
    answer = get("/app/config.json")
    # Then
    config = json.loads(body_of(answer))
    assert answer["headers"]["cache-control"] == "no-store"
    assert config["auth_mode"] == "cognito" and config["client_id"] == "client-123"
    assert config["cognito_domain"] == domain and config["routes"] == ["GET /strategies"]
    assert answer["headers"]["content-security-policy"] == (
        f"default-src 'self'; connect-src 'self' {domain}; form-action 'self' {domain}"
    )


def test_locally_the_csp_is_self_only(dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the local stack's same-origin sign-in
    monkeypatch.setenv("WEB_AUTHORIZE_URL", "/_local/oauth/authorize")
    # When
    answer = get("/app/assets/index-abc123.js")
    # Then
    assert answer["headers"]["content-security-policy"] == "default-src 'self'"


@pytest.mark.parametrize(
    "path", ["/app/../secret.txt", "/app/assets/../../secret.txt", "/app/assets/missing-1.js", "/app/.env"]
)
def test_nothing_outside_the_build_is_served_and_a_missing_asset_is_404(dist: Path, path: str) -> None:
    # When
    answer = get(path)
    # Then
    assert answer["statusCode"] == 404
    assert b"outside" not in body_of(answer)


def test_only_reads_are_served(dist: Path) -> None:
    assert get("/app/", method="POST")["statusCode"] == 405
