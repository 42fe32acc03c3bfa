"""The API key: ``Authorization: Bearer <key>`` (or ``X-API-Key``) on every /v1 route when one is set."""

from __future__ import annotations

import hmac

from fastapi import Request

from .errors import APIError


def require_key(request: Request) -> None:
    """FastAPI dependency: 401 with OpenAI's body when the server has a key and the request lacks it."""
    expected = request.app.state.settings.api_key
    if not expected:
        return
    given = _given_key(request)
    if given is None:
        raise APIError(
            401,
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")


def _given_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None
