"""Customer tracking links: a signed, expiring token naming exactly one delivery.

Format: ``<payload>.<mac>``, both unpadded base64url. The payload is compact JSON
``{"d": delivery id, "exp": unix s, "iat": unix s, "v": 1}``; the MAC is HMAC-SHA256 over a
purpose label and the payload *as transmitted*, compared as its canonical text, so changing
any character of a token (even a base64 bit that decoding would ignore) fails verification.
Keys rotate: the first key signs, every listed key verifies. Stdlib only (no itsdangerous).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

TOKEN_VERSION = 1
_PURPOSE = b"wayhouse.tracking-link.v1."
_B64 = re.compile(r"[A-Za-z0-9_-]+\Z")
_MAC_CHARS = 43  # 32 bytes of SHA-256, unpadded base64
MAX_TOKEN_CHARS = 1024
MAX_DELIVERY_ID_CHARS = 128
MIN_KEY_BYTES = 32


class TokenErrorKind(StrEnum):
    MALFORMED = "malformed"  # not a tracking token at all (truncated, mangled, wrong shape)
    TAMPERED = "tampered"  # shaped right, but the signature does not match: altered or forged
    EXPIRED = "expired"  # genuine, but past its expiry
    WRONG_DELIVERY = "wrong-delivery"  # genuine, for another delivery than the one asked


class TokenError(ValueError):
    def __init__(self, kind: TokenErrorKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class TrackingClaims:
    delivery_id: str
    issued_at: int
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # non-canonical spelling of the same bytes
        raise ValueError("non-canonical base64")
    return raw


class TrackingLinks:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        if any(len(k) < MIN_KEY_BYTES for k in keys):
            raise ValueError(f"tracking-link keys need at least {MIN_KEY_BYTES} bytes")
        self._keys = tuple(bytes(k) for k in keys)

    def _mac(self, key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, _PURPOSE + payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, delivery_id: str, *, now: float, ttl_s: float) -> str:
        if not isinstance(delivery_id, str) or not 0 < len(delivery_id) <= MAX_DELIVERY_ID_CHARS:
            raise ValueError(f"delivery id must be 1..{MAX_DELIVERY_ID_CHARS} characters")
        if not ttl_s > 0:
            raise ValueError("a tracking link must expire after a positive time")
        iat = int(now)
        claims = {"d": delivery_id, "exp": int(now + ttl_s), "iat": iat, "v": TOKEN_VERSION}
        text = json.dumps(claims, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
        payload = _b64(text.encode("ascii"))
        return f"{payload}.{self._mac(self._keys[0], payload)}"

    def verify(
        self, token: object, *, now: float, delivery_id: str | None = None
    ) -> TrackingClaims:
        """The token's claims, or ``TokenError`` saying which way it is bad.

        The signature is checked before anything in the payload is believed: an expired
        token is only called expired once it is known to be genuine.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise TokenError(TokenErrorKind.MALFORMED, "not a tracking token")
        parts = token.split(".")
        if len(parts) != 2 or not all(_B64.match(p) for p in parts):
            raise TokenError(TokenErrorKind.MALFORMED, "expected <payload>.<signature>")
        payload, mac = parts
        if len(mac) != _MAC_CHARS:
            raise TokenError(TokenErrorKind.MALFORMED, "signature has the wrong length")
        if not any(hmac.compare_digest(self._mac(k, payload), mac) for k in self._keys):
            raise TokenError(TokenErrorKind.TAMPERED, "signature does not match")
        claims = _parse(payload)
        if now >= claims.expires_at:
            raise TokenError(TokenErrorKind.EXPIRED, "this tracking link has expired")
        if delivery_id is not None and claims.delivery_id != delivery_id:
            raise TokenError(TokenErrorKind.WRONG_DELIVERY, "the link is for another delivery")
        return claims


def _parse(payload: str) -> TrackingClaims:
    """Claims of a payload whose MAC matched (so only a key holder wrote it)."""
    try:
        data = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError(TokenErrorKind.MALFORMED, "unreadable payload") from exc
    if (
        not isinstance(data, dict)
        or data.get("v") != TOKEN_VERSION
        or set(data) != {"d", "exp", "iat", "v"}
        or not isinstance(data["d"], str)
        or not data["d"]
        or type(data["exp"]) is not int
        or type(data["iat"]) is not int
    ):
        raise TokenError(TokenErrorKind.MALFORMED, "unexpected claims")
    return TrackingClaims(data["d"], data["iat"], data["exp"])
