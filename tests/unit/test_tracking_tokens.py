"""Customer tracking links: one delivery, expiring, and any altered character rejected."""

from __future__ import annotations

import base64
import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.tracking.tokens import (
    TokenError,
    TokenErrorKind,
    TrackingClaims,
    TrackingLinks,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = 1_700_000_000.0
DAY = 86_400.0
LINKS = TrackingLinks([KEY])
B64 = set(string.ascii_letters + string.digits + "-_")


def _kind(token: object, links: TrackingLinks = LINKS, **kw: object) -> TokenErrorKind:
    with pytest.raises(TokenError) as exc:
        links.verify(token, now=kw.pop("now", NOW), **kw)  # type: ignore[arg-type]
    return exc.value.kind


def test_issue_and_verify() -> None:
    token = LINKS.issue("DLV-0042", now=NOW, ttl_s=DAY)
    claims = LINKS.verify(token, now=NOW + 10)
    assert claims == TrackingClaims("DLV-0042", int(NOW), int(NOW + DAY))
    assert LINKS.verify(token, now=NOW, delivery_id="DLV-0042").delivery_id == "DLV-0042"


def test_the_token_carries_one_delivery_and_nothing_else() -> None:
    token = LINKS.issue("DLV-0042", now=NOW, ttl_s=DAY)
    payload = token.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert data == {"d": "DLV-0042", "exp": int(NOW + DAY), "iat": int(NOW), "v": 1}


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_changed_character_is_rejected(data: st.DataObject) -> None:
    token = LINKS.issue("DLV-0042", now=NOW, ttl_s=DAY)
    i = data.draw(st.integers(0, len(token) - 1))
    c = data.draw(
        st.characters(min_codepoint=32, max_codepoint=126).filter(lambda ch: ch != token[i])
    )
    forged = token[:i] + c + token[i + 1 :]
    kind = _kind(forged)
    if token[i] != "." and c in B64:
        assert kind is TokenErrorKind.TAMPERED  # still shaped like a token: a forgery
    else:
        assert kind is TokenErrorKind.MALFORMED


def test_bits_that_base64_decoding_ignores_still_count() -> None:
    """The last signature character carries 2 unused bits: flipping one decodes to the same
    bytes, and must still be rejected."""
    token = LINKS.issue("DLV-0042", now=NOW, ttl_s=DAY)
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = token[-1]
    twin = alphabet[alphabet.index(last) ^ 1]
    forged = token[:-1] + twin
    raw = lambda s: base64.urlsafe_b64decode(s + "=")  # noqa: E731
    assert raw(forged.split(".")[1]) == raw(token.split(".")[1])
    assert _kind(forged) is TokenErrorKind.TAMPERED


def test_expired_links_are_refused_after_their_signature_checks() -> None:
    token = LINKS.issue("DLV-1", now=NOW, ttl_s=3600)
    assert LINKS.verify(token, now=NOW + 3599).delivery_id == "DLV-1"
    assert _kind(token, now=NOW + 3600) is TokenErrorKind.EXPIRED
    assert _kind(token, now=NOW + 10 * DAY) is TokenErrorKind.EXPIRED
    # An expired token that was also altered is called what it is: not genuine.
    forged = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    assert _kind(forged, now=NOW + 10 * DAY) is TokenErrorKind.TAMPERED


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_link_for_one_delivery_never_opens_another(a: str, b: str) -> None:
    token = LINKS.issue(a, now=NOW, ttl_s=DAY)
    assert LINKS.verify(token, now=NOW).delivery_id == a
    if a != b:
        assert _kind(token, delivery_id=b) is TokenErrorKind.WRONG_DELIVERY


def test_other_keys_and_rotation() -> None:
    token = TrackingLinks([OTHER_KEY]).issue("DLV-1", now=NOW, ttl_s=DAY)
    assert _kind(token) is TokenErrorKind.TAMPERED
    rotated = TrackingLinks([KEY, OTHER_KEY])  # new key signs, the old one still verifies
    assert rotated.verify(token, now=NOW).delivery_id == "DLV-1"
    assert LINKS.verify(rotated.issue("DLV-2", now=NOW, ttl_s=DAY), now=NOW).delivery_id == "DLV-2"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", ".", "abc.", "ab$c.def", "x" * 5000, None, 42, b"abc.def"],
)
def test_malformed_tokens(token: object) -> None:
    assert _kind(token) is TokenErrorKind.MALFORMED


def test_a_signed_but_foreign_payload_is_malformed() -> None:
    mac = LINKS._mac(KEY, "e30")  # {} signed with the right key
    assert _kind(f"e30.{mac}") is TokenErrorKind.MALFORMED


def test_issuing_needs_a_real_key_a_delivery_and_an_expiry() -> None:
    with pytest.raises(ValueError):
        TrackingLinks([b"short"])
    with pytest.raises(ValueError):
        TrackingLinks([])
    with pytest.raises(ValueError):
        LINKS.issue("", now=NOW, ttl_s=DAY)
    with pytest.raises(ValueError):
        LINKS.issue("DLV-1", now=NOW, ttl_s=0)


def test_error_messages_name_the_kind() -> None:
    with pytest.raises(TokenError, match=r"^expired: "):
        LINKS.verify(LINKS.issue("D", now=NOW, ttl_s=1), now=NOW + 5)
