"""The outbox: seq order, acknowledgement, and seqs that survive restarts and crashes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.edge.outbox import MemoryOutbox, Outbox, SqliteOutbox


def _payload(seq: int) -> bytes:
    return b'{"seq":%d}' % seq


@pytest.fixture(params=["sqlite", "memory"])
def make_outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Outbox]:
    if request.param == "sqlite":
        return lambda: SqliteOutbox(tmp_path / "outbox.db")
    return MemoryOutbox


def test_put_builds_the_payload_with_the_assigned_seq(make_outbox: Callable[[], Outbox]) -> None:
    """The seq is inside the stored payload, and seqs count up from 1."""
    ob = make_outbox()
    seqs = [ob.put("wh/v1/a/shelf", _payload) for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [(p.seq, p.payload) for p in ob.pending()] == [(s, _payload(s)) for s in seqs]
    assert ob.last_seq == 5


def test_pending_is_in_seq_order_after_a_cursor_and_limited(
    make_outbox: Callable[[], Outbox],
) -> None:
    ob = make_outbox()
    for i in range(10):
        ob.put(f"t/{i}", _payload)
    assert [p.seq for p in ob.pending(after_seq=3, limit=4)] == [4, 5, 6, 7]
    assert [p.topic for p in ob.pending(after_seq=8)] == ["t/8", "t/9"]
    assert ob.pending(after_seq=10) == []


def test_ack_removes_only_that_row_and_is_idempotent(make_outbox: Callable[[], Outbox]) -> None:
    ob = make_outbox()
    for _ in range(4):
        ob.put("t", _payload)
    ob.ack(2)
    ob.ack(2)
    assert [p.seq for p in ob.pending()] == [1, 3, 4]
    assert ob.count() == 3


def test_reserve_consumes_a_seq_without_a_row(make_outbox: Callable[[], Outbox]) -> None:
    """The last will's seq: never handed out again, never sent from the outbox."""
    ob = make_outbox()
    ob.put("t", _payload)
    assert ob.reserve() == 2
    assert ob.put("t", _payload) == 3
    assert [p.seq for p in ob.pending()] == [1, 3]


def test_seq_survives_reopen_even_when_everything_was_acked(tmp_path: Path) -> None:
    """Seqs are never reused across restarts: ingest would drop a reused seq as a duplicate."""
    path = tmp_path / "o.db"
    ob = SqliteOutbox(path)
    for _ in range(3):
        ob.put("t", _payload)
    ob.reserve()  # 4
    for s in (1, 2, 3):
        ob.ack(s)
    ob.close()
    ob = SqliteOutbox(path)
    assert ob.count() == 0
    assert ob.last_seq == 4
    assert ob.put("t", _payload) == 5


def test_unacked_rows_survive_reopen_in_order(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    ob = SqliteOutbox(path)
    for i in range(100):
        ob.put(f"t/{i}", _payload)
    ob.ack(50)
    ob.close()
    again = SqliteOutbox(path)
    rows = again.pending(limit=1000)
    assert [r.seq for r in rows] == [s for s in range(1, 101) if s != 50]
    assert all(r.payload == _payload(r.seq) for r in rows)


def test_pending_commits_so_another_connection_sees_the_rows(tmp_path: Path) -> None:
    """A row is durable before it can be sent (pending() commits the open batch)."""
    path = tmp_path / "o.db"
    ob = SqliteOutbox(path, commit_every=10_000, commit_interval=3600)
    ob.put("t", _payload)
    assert SqliteOutbox(path).count() == 0  # still in the open batch
    ob.pending()
    assert SqliteOutbox(path).count() == 1


_CRASH = textwrap.dedent(
    """
    import os, sys
    from wayhouse.edge.outbox import SqliteOutbox
    ob = SqliteOutbox(sys.argv[1], commit_every=10_000, commit_interval=3600)
    for _ in range(200):
        ob.put("t", lambda s: b"%d" % s)
    sent = ob.pending(limit=1000)          # commits: these could now be on the wire
    for _ in range(50):
        ob.put("t", lambda s: b"%d" % s)   # never committed
    print(sent[-1].seq, flush=True)
    os._exit(1)                            # die without closing, like kill -9
    """
)


def test_a_crash_loses_only_uncommitted_rows_and_never_reuses_a_sent_seq(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    out = subprocess.run(
        [sys.executable, "-c", _CRASH, str(path)], capture_output=True, text=True, check=False
    )
    last_sent = int(out.stdout.strip())
    ob = SqliteOutbox(path)
    assert [r.seq for r in ob.pending(limit=1000)] == list(range(1, last_sent + 1))
    assert ob.put("t", _payload) > last_sent


def test_synchronous_mode_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteOutbox(tmp_path / "o.db", synchronous="SOMETIMES; DROP TABLE x")


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 3)),
        st.tuples(st.just("ack"), st.integers(0, 60)),
        st.tuples(st.just("reserve"), st.just(0)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ops=_ops)
def test_outbox_matches_a_model_under_any_operations(tmp_path_factory, ops) -> None:  # type: ignore[no-untyped-def]
    """Against a dict model: same rows in seq order; seqs strictly increase, never reused."""
    path = tmp_path_factory.mktemp("prop") / "o.db"
    obs: list[Outbox] = [SqliteOutbox(path, commit_every=7), MemoryOutbox()]
    model: dict[int, str] = {}
    issued: list[int] = []
    for op, arg in ops:
        if op == "put":
            got = {ob.put(f"t/{arg}", _payload) for ob in obs}
            assert len(got) == 1
            seq = got.pop()
            model[seq] = f"t/{arg}"
            issued.append(seq)
        elif op == "ack":
            for ob in obs:
                ob.ack(arg)
            model.pop(arg, None)
        elif op == "reserve":
            got = {ob.reserve() for ob in obs}
            assert len(got) == 1
            issued.append(got.pop())
        else:
            obs[0].close()
            obs[0] = SqliteOutbox(path, commit_every=7)
        for ob in obs:
            assert [(p.seq, p.topic) for p in ob.pending(limit=10_000)] == sorted(model.items())
            assert ob.count() == len(model)
    assert issued == sorted(set(issued))
    assert issued == list(range(1, len(issued) + 1))
