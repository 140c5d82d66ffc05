"""The client's message store and durable outbox (no network)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentdesk.wukongim.catchup import ingest, ingest_live
from agentdesk.wukongim.store import ChannelSeq, MessageStore, StoredMessage


def msg(mid: int, seq: int, cmn: str = "", channel: str = "g1", ctype: int = 2) -> StoredMessage:
    return StoredMessage(
        message_id=mid,
        message_seq=seq,
        client_msg_no=cmn or f"cmn-{mid}",
        from_uid="bob",
        channel_id=channel,
        channel_type=ctype,
        timestamp=1_700_000_000 + seq,
        payload=b'{"type":1,"content":"x"}',
    )


def test_store_received_is_idempotent_by_message_id() -> None:
    s = MessageStore.open(":memory:")
    assert s.store_received([msg(1, 1), msg(2, 2)]) == [msg(1, 1), msg(2, 2)]
    assert s.store_received([msg(2, 2), msg(1, 1)]) == []
    assert s.count_messages() == 2


def test_duplicate_client_msg_no_with_new_id_is_dropped_but_its_seq_counts() -> None:
    s = MessageStore.open(":memory:")
    s.store_received([msg(1, 1, "a")])
    # the server stored a re-sent copy: new message_id and seq, same client_msg_no
    assert s.store_received([msg(9, 2, "a")]) == []
    assert s.count_messages() == 1
    assert s.channel("g1", 2) is not None
    assert s.channel("g1", 2).contiguous_seq == 2  # type: ignore[union-attr]
    # the same client_msg_no in another channel is a different message
    assert s.store_received([msg(10, 1, "a", channel="g2")]) != []


def test_gaps_are_tracked_and_filled() -> None:
    s = MessageStore.open(":memory:")
    s.store_received([msg(1, 1), msg(3, 3), msg(7, 7)])
    assert s.gaps("g1", 2) == [(2, 2), (4, 6)]
    assert s.channels_with_gaps() == [("g1", 2)]
    st_ = s.channel("g1", 2)
    assert st_ is not None and (st_.contiguous_seq, st_.max_seq) == (1, 7)
    s.store_received([msg(2, 2), msg(4, 4), msg(5, 5), msg(6, 6)])
    assert s.gaps("g1", 2) == []
    assert s.last_seqs() == {("g1", 2): 7}
    assert s.channels_with_gaps() == []


def test_baseline_ignores_older_history() -> None:
    s = MessageStore.open(":memory:")
    s.set_baseline("g1", 2, 41)
    s.store_received([msg(42, 42)])
    assert s.last_seqs() == {("g1", 2): 42}
    # ingest() sets a baseline for a channel seen for the first time
    assert ingest(s, [msg(100, 500, channel="new")], backfill=10) == [msg(100, 500, channel="new")]
    assert s.gaps("new", 2) == [(490, 499)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=80))
def test_contiguous_seq_matches_a_model(seqs: list[int]) -> None:
    s = MessageStore.open(":memory:")
    # feed in arbitrary order and batch sizes, with repeats
    for i in range(0, len(seqs), 7):
        s.store_received([msg(q, q) for q in seqs[i : i + 7]])
    seen = set(seqs)
    contiguous = 0
    while contiguous + 1 in seen:
        contiguous += 1
    st_ = s.channel("g1", 2)
    assert st_ is not None
    assert st_.contiguous_seq == contiguous
    assert st_.max_seq == max(seqs)
    missing = [q for q in range(contiguous + 1, max(seqs)) if q not in seen]
    flat = [q for a, b in s.gaps("g1", 2) for q in range(a, b + 1)]
    assert flat == missing
    assert s.count_messages() == len(seen)


def test_outbox_lifecycle(tmp_path: Path) -> None:
    path = tmp_path / "im.sqlite"
    s = MessageStore.open(path)
    s.set_baseline("g1", 2, 4)
    s.store_received([msg(1, 5)])
    e = s.outbox_add("g1", 2, b'{"type":1,"content":"reply"}', "c1", now=10.0)
    assert (e.state, e.attempts, e.seq_hint) == ("pending", 0, 5)
    # adding the same client_msg_no again changes nothing
    assert s.outbox_add("g1", 2, b"other", "c1").payload == b'{"type":1,"content":"reply"}'
    s.outbox_add("bob", 1, b"{}", "c2", now=11.0)
    s.outbox_attempt("c1")
    assert s.outbox_get("c1").state == "sent"  # type: ignore[union-attr]
    s.close()

    # a restart: the file keeps the outbox; "sent" entries are unknown again
    s = MessageStore.open(path)
    s.outbox_requeue()
    assert [(x.client_msg_no, x.state, x.attempts) for x in s.outbox_unacked()] == [
        ("c1", "pending", 1),
        ("c2", "pending", 0),
    ]
    stored = s.outbox_acked("c1", message_id=77, message_seq=6, from_uid="me", timestamp=123)
    assert stored is not None and stored.payload == b'{"type":1,"content":"reply"}'
    assert s.outbox_get("c1") is None
    assert s.find_client_msg_no("g1", 2, "c1") == stored
    assert s.last_seqs()[("g1", 2)] == 6
    s.outbox_failed("c2", 3)
    assert s.outbox_unacked() == []
    assert [(x.state, x.reason_code) for x in s.outbox_all()] == [("failed", 3)]
    s.close()


def test_corrupt_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "im.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    s = MessageStore.open(path)
    assert s.moved_aside is not None and s.moved_aside.exists()
    assert s.store_received([msg(1, 1)]) == [msg(1, 1)]
    s.close()


def test_history_is_ascending_and_bounded() -> None:
    s = MessageStore.open(":memory:")
    s.store_received([msg(i, i) for i in range(1, 11)])
    assert [m.message_seq for m in s.history("g1", 2, limit=3)] == [8, 9, 10]
    assert s.get_message(4) == msg(4, 4)


def _big(mid: int, seq: int, channel: str = "g1") -> StoredMessage:
    m = msg(mid, seq, channel=channel)
    return StoredMessage(
        message_id=m.message_id,
        message_seq=m.message_seq,
        client_msg_no=m.client_msg_no,
        from_uid=m.from_uid,
        channel_id=m.channel_id,
        channel_type=m.channel_type,
        timestamp=m.timestamp,
        payload=b'{"type":1,"content":"' + b"x" * 20_000 + b'"}',
    )


def _cap_to_current_size(s: MessageStore) -> None:
    """Let the file grow by one page at most: the next real write fails with SQLITE_FULL."""
    pages = int(s.conn.execute("PRAGMA page_count").fetchone()[0])
    s.conn.execute(f"PRAGMA max_page_count = {pages + 1}")


def test_a_full_disk_rolls_back_the_whole_batch_and_the_seqs(tmp_path: Path) -> None:
    path = tmp_path / "full.sqlite3"
    s = MessageStore.open(path)
    s.store_received([msg(1, 1)])
    _cap_to_current_size(s)

    with pytest.raises(sqlite3.OperationalError, match="full"):
        s.store_received([_big(i, i) for i in range(2, 7)])
    # nothing of the batch was stored, and the seq tracker does not claim any of it
    assert s.channel("g1", 2) == ChannelSeq(1, 1)
    assert s.last_seqs() == {("g1", 2): 1}
    assert [m.message_seq for m in s.history("g1", 2)] == [1]
    # the same through the live path, for a channel seen for the first time (baseline + rows)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        ingest_live(s, [_big(20, 40, channel="g2")], 0)
    assert s.channel("g2", 2) is None
    # and the file agrees with the cache
    again = MessageStore.open(path)
    assert again.last_seqs() == {("g1", 2): 1}
    assert again.count_messages() == 1
    again.close()

    # space again: the re-delivered batch is stored completely, the seq advances over it
    s.conn.execute("PRAGMA max_page_count = 1073741823")
    assert len(s.store_received([_big(i, i) for i in range(2, 7)])) == 5
    new, gap = ingest_live(s, [_big(20, 40, channel="g2")], 0)
    assert [m.message_id for m in new] == [20] and not gap
    assert s.channel("g1", 2) == ChannelSeq(6, 6)
    assert s.channel("g2", 2) == ChannelSeq(40, 40)
    assert s.gaps("g1", 2) == []
    s.close()


def test_a_full_disk_late_in_a_transaction_undoes_its_earlier_calls(tmp_path: Path) -> None:
    """SQLite rolls the transaction back by itself on SQLITE_FULL; the seqs of the calls that had
    succeeded inside it must not stay claimed (in the cache or in the file)."""
    path = tmp_path / "full-late.sqlite3"
    s = MessageStore.open(path)
    s.store_received([msg(1, 1)])
    _cap_to_current_size(s)
    with pytest.raises(sqlite3.OperationalError, match="full"), s.atomic():
        s.store_received([msg(2, 2), msg(3, 3)])
        s.store_received([_big(4, 4)])
    assert s.channel("g1", 2) == ChannelSeq(1, 1)
    assert s.count_messages() == 1
    assert not s.conn.in_transaction
    s.conn.execute("PRAGMA max_page_count = 1073741823")
    s.store_received([msg(2, 2), msg(3, 3), _big(4, 4)])
    assert s.channel("g1", 2) == ChannelSeq(4, 4)
    s.close()
