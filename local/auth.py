"""Development JWTs for the local gateway: HS256 tokens for named local users, checked like API Gateway's JWT
authorizer checks Cognito's (issuer, audience, expiry, signature) before the handler is called."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

LOCAL_ISSUER = "http://127.0.0.1/autopilot-local"
LOCAL_AUDIENCE = "autopilot-local"
DEFAULT_TOKEN_HOURS = 24
# API Gateway's authorizer ignores scopes unless a route asks for them; Cognito access tokens carry these
DEFAULT_SCOPES = ("autopilot/api",)


class InvalidToken(Exception):
    """A token API Gateway refuses: missing, malformed, badly signed, expired, or for another audience."""


@dataclass
class DevTokenIssuer:
    """Issues and checks the stack's tokens. The secret is new for every stack, so a token from an earlier
    run is refused, as a token from another user pool would be."""

    now: Callable[[], datetime]
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_AUDIENCE

    def issue(
        self, user: str, *, hours: float = DEFAULT_TOKEN_HOURS, scopes: tuple[str, ...] = DEFAULT_SCOPES
    ) -> str:
        if not user or len(user) > 128:
            raise ValueError("a user name is 1..128 characters")
        issued = self.now()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user,
            "username": user,
            "token_use": "access",
            "scope": " ".join(scopes),
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(hours=hours)).timestamp()),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The claims of a valid `Authorization` header value (`Bearer <jwt>` or the bare token, as API
        Gateway accepts both); InvalidToken otherwise."""
        if not authorization:
            raise InvalidToken("no token")
        token = authorization.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            # expiry is checked against the stack's clock below, not the wall clock: the demo's clock is fast
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= int(self.now().timestamp()):
            raise InvalidToken("expired")
        return claims
