"""Mosquitto credentials and the ACL rendered from the registry (pure functions)."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from wayhouse.config import INGEST_USER, PLATFORM_USER
from wayhouse.edge import schema as S
from wayhouse.platform.devices.credentials import (
    AgentCredential,
    hash_password,
    new_password,
    render_acl,
    render_password_file,
    verify_password,
)
from wayhouse.platform.devices.model import AgentSpec

# What mosquitto_passwd writes: $7$<iterations>$<12-byte salt, base64>$<64-byte digest, base64>.
MOSQUITTO_7 = re.compile(r"\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")

passwords = st.text(min_size=1, max_size=40).filter(lambda p: "\x00" not in p)


@settings(max_examples=30, deadline=None)
@given(password=passwords)
def test_hash_has_the_mosquitto_shape_and_verifies(password: str) -> None:
    encoded = hash_password(password)
    assert MOSQUITTO_7.fullmatch(encoded), encoded
    assert len(base64.b64decode(encoded.split("$")[3])) == 12
    assert verify_password(password, encoded)
    assert not verify_password(password + "x", encoded)
    assert not verify_password(password[:-1], encoded)


def test_each_hash_gets_its_own_salt() -> None:
    hashes = {hash_password("same") for _ in range(20)}
    assert len(hashes) == 20
    assert all(verify_password("same", h) for h in hashes)


def test_a_given_salt_makes_the_hash_reproducible() -> None:
    salt = bytes(range(12))
    assert hash_password("pw", salt) == hash_password("pw", salt)
    assert hash_password("pw", salt) != hash_password("pw", bytes(12))


@pytest.mark.parametrize(
    "encoded",
    ["", "plain", "$6$101$c2FsdA==$ZGlnZXN0", "$7$101$c2FsdA==", "$7$101$a$b$c"],
)
def test_malformed_hashes_do_not_verify(encoded: str) -> None:
    assert verify_password("pw", encoded) is False


def test_new_passwords_are_long_and_distinct() -> None:
    pws = {new_password() for _ in range(50)}
    assert len(pws) == 50
    assert all(len(p) >= 20 for p in pws)


def _mosquitto_hash(tmp_path: Path, user: str, password: str) -> str:
    pwfile = tmp_path / "passwd"
    pwfile.unlink(missing_ok=True)
    subprocess.run(
        [str(MOSQUITTO_PASSWD), "-c", "-b", str(pwfile), user, password],
        check=True,
        capture_output=True,
        timeout=30,
    )
    line = pwfile.read_text().strip()
    name, _, encoded = line.partition(":")
    assert name == user
    return encoded


@pytest.mark.skipif(not MOSQUITTO_PASSWD.exists(), reason="mosquitto_passwd is not installed")
@pytest.mark.parametrize("password", ["secret", "pässwörd ✓", "a" * 64, new_password()])
def test_hashes_made_by_mosquitto_passwd_verify(tmp_path: Path, password: str) -> None:
    encoded = _mosquitto_hash(tmp_path, "dev-1", password)
    assert MOSQUITTO_7.fullmatch(encoded), encoded
    assert verify_password(password, encoded)
    assert not verify_password(password + "!", encoded)
    # Same salt, same password: byte-for-byte what the real tool writes.
    salt = base64.b64decode(encoded.split("$")[3])
    assert hash_password(password, salt) == encoded


# --- password file and ACL ---------------------------------------------------------------------

AGENTS = [
    AgentCredential("shelf-1", "shelf", hash_password("p1")),
    AgentCredential("t1", "truck", hash_password("p2")),
    AgentCredential("t10", "truck", hash_password("p3")),  # t1's id is a prefix of it
    AgentCredential("gate.a", "scanner", hash_password("p4")),
]
SERVICE = {INGEST_USER: hash_password("i"), PLATFORM_USER: hash_password("p")}


def parse_acl(text: str) -> dict[str, list[tuple[str, str]]]:
    """user -> [(access, topic)], as mosquitto reads the file (no 'pattern' lines expected)."""
    rules: dict[str, list[tuple[str, str]]] = {}
    user: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "user":
            user = rest
            assert user not in rules, f"user {user} listed twice"
            rules[user] = []
        elif word == "topic":
            assert user is not None, "a topic line before any user line applies to everyone"
            access, _, topic = rest.partition(" ")
            rules[user].append((access, topic))
        else:
            pytest.fail(f"unexpected ACL line {line!r}")
    return rules


def allowed(rules: dict[str, list[tuple[str, str]]], user: str, access: str, topic: str) -> bool:
    return any(
        a in (access, "readwrite") and topic_matches_sub(sub, topic)
        for a, sub in rules.get(user, [])
    )


def test_password_file_lists_service_users_and_agents() -> None:
    text = render_password_file(AGENTS, SERVICE)
    assert text.endswith("\n")
    entries = dict(line.split(":", 1) for line in text.splitlines())
    assert set(entries) == {INGEST_USER, PLATFORM_USER} | {a.agent_id for a in AGENTS}
    for a in AGENTS:
        assert entries[a.agent_id] == a.password_hash
    assert verify_password("p2", entries["t1"])


def test_acl_gives_each_agent_write_only_under_its_own_id() -> None:
    rules = parse_acl(render_acl(AGENTS))
    ids = [a.agent_id for a in AGENTS]
    for a in AGENTS:
        for stream in S.Stream:
            assert allowed(rules, a.agent_id, "write", S.topic(a.agent_id, stream))
            for other in ids:
                if other != a.agent_id:
                    assert not allowed(rules, a.agent_id, "write", S.topic(other, stream))
                    assert not allowed(rules, a.agent_id, "read", S.topic(other, stream))
        assert not allowed(rules, a.agent_id, "write", "wh/v1/x")
        assert not allowed(rules, a.agent_id, "write", "other/root")
        # Agents never read telemetry, not even their own.
        assert not allowed(rules, a.agent_id, "read", S.topic(a.agent_id, "shelf"))


def test_acl_lets_trucks_read_only_their_own_route() -> None:
    rules = parse_acl(render_acl(AGENTS))
    assert allowed(rules, "t1", "read", "wh/v1/t1/route")
    assert allowed(rules, "t10", "read", "wh/v1/t10/route")
    assert not allowed(rules, "t1", "read", "wh/v1/t10/route")
    assert not allowed(rules, "t10", "read", "wh/v1/t1/route")
    assert not allowed(rules, "shelf-1", "read", "wh/v1/shelf-1/route")
    assert not allowed(rules, "gate.a", "read", "wh/v1/gate.a/route")


def test_acl_service_users() -> None:
    rules = parse_acl(render_acl(AGENTS))
    assert allowed(rules, INGEST_USER, "read", "wh/v1/t1/gps")
    assert not allowed(rules, INGEST_USER, "write", "wh/v1/t1/gps")
    assert allowed(rules, PLATFORM_USER, "write", "wh/v1/t1/route")


def test_revoked_agents_get_nothing() -> None:
    active = [a for a in AGENTS if a.agent_id != "t1"]  # t1 revoked: no longer in the registry
    acl = render_acl(active)
    rules = parse_acl(acl)
    assert "t1" not in rules
    assert not allowed(rules, "t1", "write", "wh/v1/t1/gps")
    assert not allowed(rules, "t1", "read", "wh/v1/t1/route")
    assert not re.search(r"^user t1$", acl, re.M)
    users = {line.split(":", 1)[0] for line in render_password_file(active, SERVICE).splitlines()}
    assert "t1" not in users and "t10" in users
    # Its former neighbours keep exactly what they had.
    assert rules["t10"] == parse_acl(render_acl(AGENTS))["t10"]


def test_acl_is_independent_of_input_order() -> None:
    assert render_acl(AGENTS) == render_acl(list(reversed(AGENTS)))
    assert render_password_file(AGENTS, SERVICE) == render_password_file(AGENTS[::-1], SERVICE)


@settings(deadline=None)
@given(
    ids=st.lists(
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    trucks=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_acl_isolates_any_set_of_agents(ids: list[str], trucks: list[bool]) -> None:
    creds = [
        AgentCredential(i, "truck" if truck else "shelf", "h")
        for i, truck in zip(ids, trucks, strict=False)
    ]
    rules = parse_acl(render_acl(creds))
    for c in creds:
        for other in ids:
            own = other == c.agent_id
            assert allowed(rules, c.agent_id, "write", S.topic(other, "shelf")) == own
            assert allowed(rules, c.agent_id, "read", f"wh/v1/{other}/route") == (
                own and c.kind == "truck"
            )


def test_agent_id_with_trailing_newline_never_reaches_the_broker_files() -> None:
    with pytest.raises(ValueError):
        AgentSpec("evil\n", "shelf")
