"""The reducer: chunking invariance, idempotent replay, skipping junk, and the meaning of each field."""

from __future__ import annotations

import itertools

from deskkit import BOT, T0, DeskSim, rid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentdesk.desk import protocol as p
from agentdesk.desk.state import LogEntry, Reducer

CHANNELS = ["v1___vstr", "v2___vstr", "v3___vstr"]
USERS = ["alice", "bob", "sam", "ada", "mallory"]
ROUTES = ["ai_ok", "needs_human", "escalate_urgent", "weird"]

_op = st.tuples(
    st.sampled_from(
        [
            "customer",
            "claim",
            "release",
            "transfer",
            "escalate",
            "take_over",
            "hand_back",
            "resolve",
            "reopen",
            "note",
            "label",
            "set_mode",
            "reply",
            "junk",
            "forged",
            "repost",
        ]
    ),
    st.integers(0, len(CHANNELS) - 1),
    st.integers(0, len(USERS) - 1),
    st.integers(0, 3),
)


def build(ops: list[tuple[str, int, int, int]], reposts: set[int] | None = None) -> DeskSim:
    """A desk log from a script of operations, with junk a real desk channel may carry; the seqs of
    re-posted facts go to `reposts`."""
    sim = DeskSim()
    for op, ci, ui, k in ops:
        ch, user = CHANNELS[ci], USERS[ui]
        if op == "customer":
            sim.customer(ch, ROUTES[k], f"reason{k}", name=f"Customer {ci}")
        elif op == "reply":
            sim.staff_reply(ch, user)
        elif op == "junk":
            sim.post(
                BOT,
                [
                    b"{not json",
                    b'{"type":30001,"v":1,"kind":"party","id":"' + b"a" * 32 + b'"}',
                    b'{"type":30001,"v":9,"kind":"resolved"}',
                    b'{"type":1,"content":"hi"}',
                ][k],
            )
        elif op == "forged":  # a staff member posts a "fact": must change nothing
            sim.post(user, p.encode_bytes(p.Assigned(id=rid(), channel=ch, at=sim.now, assignee=user)))
        elif op == "repost":  # the bot posts an earlier fact again (a retry): applied once
            bot_entries = [e for e in sim.log if e.from_uid == BOT]
            if bot_entries:
                entry = sim.post(BOT, bot_entries[k * 7 % len(bot_entries)].payload)
                if reposts is not None:
                    reposts.add(entry.seq)
        else:
            sim.request(user, _request(op, ch, USERS[k], k))
    return sim


def _request(op: str, ch: str, other: str, k: int) -> p.Request:
    i = rid()
    urgency = p.URGENCIES[k]
    return {
        "claim": lambda: p.Claim(id=i, channel=ch),
        "release": lambda: p.Release(id=i, channel=ch),
        "transfer": lambda: p.Transfer(id=i, channel=ch, to=other),
        "escalate": lambda: p.Escalate(id=i, channel=ch, urgency=urgency, reason=f"r{k}", note=f"n{k}"),
        "take_over": lambda: p.TakeOver(id=i, channel=ch),
        "hand_back": lambda: p.HandBack(id=i, channel=ch),
        "resolve": lambda: p.Resolve(id=i, channel=ch),
        "reopen": lambda: p.Reopen(id=i, channel=ch),
        "note": lambda: p.Note(id=i, channel=ch, text=f"note {k}"),
        "label": lambda: p.Label(id=i, channel=ch, add=(f"l{k}",), remove=(f"l{(k + 1) % 4}",)),
        "set_mode": lambda: p.SetMode(id=i, channel=ch, mode=p.MODES[k % 3]),
    }[op]()


FACT_FIELDS = ("known", "status", "mode", "assignee", "urgency", "escalated", "reasons", "labels", "notes")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(_op, min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 400), max_size=8),
    replay=st.tuples(st.integers(0, 400), st.integers(0, 400)),
)
def test_any_chunking_and_any_replay_give_the_same_state(
    ops: list[tuple[str, int, int, int]], cuts: list[int], replay: tuple[int, int]
) -> None:
    log = build(ops).log
    whole = Reducer(BOT)
    whole.apply_many(log)
    chunked = Reducer(BOT)
    bounds = sorted({0, len(log), *(c % (len(log) + 1) for c in cuts)})
    for a, b in itertools.pairwise(bounds):
        chunked.apply_many(log[a:b])
        lo, hi = sorted(r % (b + 1) for r in replay)
        chunked.apply_many(log[lo:hi])  # a reconnect replaying what was already applied
    assert chunked.snapshot() == whole.snapshot()
    assert whole.last_seq == len(log)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=60))
def test_a_reposted_fact_changes_nothing(ops: list[tuple[str, int, int, int]]) -> None:
    reposts: set[int] = set()
    log = build(ops, reposts).log
    with_reposts, without = Reducer(BOT), Reducer(BOT)
    with_reposts.apply_many(log)
    without.apply_many(e for e in log if e.seq not in reposts)
    assert with_reposts.conversations == without.conversations
    assert with_reposts.applied == without.applied


def test_a_retried_fact_after_later_changes_is_ignored() -> None:
    sim = DeskSim()
    sim.customer("v1___vstr", "needs_human")
    sim.request("alice", p.Claim(id=rid(), channel="v1___vstr"))
    assigned = sim.log[-1]
    sim.request("alice", p.Release(id=rid(), channel="v1___vstr"))
    sim.post(BOT, assigned.payload)
    state = sim.console()
    conv = state.get("v1___vstr")
    assert conv is not None and conv.assignee is None
    assert state.members("unassigned") == {"v1___vstr"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=60))
def test_every_console_agrees_with_the_bot(ops: list[tuple[str, int, int, int]]) -> None:
    sim = build(ops)
    console = sim.console()
    for ch in CHANNELS:
        mine, theirs = console.get(ch), sim.bot.get(ch)
        assert (mine is None) == (theirs is None)
        if mine is not None and theirs is not None:
            assert [getattr(mine, f) for f in FACT_FIELDS] == [getattr(theirs, f) for f in FACT_FIELDS]
    for view in ("unassigned", "escalated", "ai", "all"):
        assert console.members(view) == sim.bot.members(view)


def test_junk_and_forgeries_are_skipped() -> None:
    sim = DeskSim()
    sim.customer("v1___vstr", "needs_human", name="Eve")
    sim.post("mallory", p.encode_bytes(p.Assigned(id=rid(), channel="v1___vstr", at=T0, assignee="mallory")))
    sim.post(BOT, b"{broken")
    sim.post(BOT, {"type": p.CONTENT_TYPE, "v": 1, "kind": "teleported", "id": rid(), "channel": "v1___vstr"})
    sim.post(BOT, p.encode_bytes(p.Assigned(id=rid(), channel="nobody___vstr", at=T0, assignee="bob")))
    state = sim.console()
    conv = state.get("v1___vstr")
    assert conv is not None and conv.assignee is None
    assert state.get("nobody___vstr") is None
    assert (state.applied, state.skipped, state.last_seq) == (3, 3, len(sim.log))


def test_waiting_since_follows_people_not_the_ai() -> None:
    sim = DeskSim()
    sim.customer("v1___vstr", "ai_ok")  # T0+1: the AI answers; nobody waits for a person
    state = sim.console()
    conv = state.get("v1___vstr")
    assert conv is not None and conv.waiting_since is None
    state.apply_message("v1___vstr", sender="customer", at=T0 + 2, text="hello?", seq=1)
    assert conv.waiting_since is None and conv.unread == 1
    sim.customer("v1___vstr", "needs_human", dt=2)  # T0+3: handed to people
    state.apply_many(sim.log)
    assert conv.waiting_since == T0 + 3
    state.apply_message("v1___vstr", sender="customer", at=T0 + 9, text="anyone?", seq=2)
    assert conv.waiting_since == T0 + 3  # still the start of the wait
    state.apply_message("v1___vstr", sender="bot", at=T0 + 10, text="An agent will be with you", seq=3)
    assert conv.waiting_since == T0 + 3
    state.apply_message(
        "v1___vstr", sender="staff", at=T0 + 20, text="Hi, I'm Alice\n\nhow can I help", seq=4
    )
    assert conv.waiting_since is None and conv.unread == 0
    assert (conv.preview, conv.preview_from) == ("Hi, I'm Alice how can I help", "staff")
    state.apply_message("v1___vstr", sender="customer", at=T0 + 30, text="my order", seq=5)
    assert conv.waiting_since == T0 + 30
    assert state.apply_message("v1___vstr", sender="customer", at=T0 + 30, text="my order", seq=5) is False
    assert conv.unread == 1
    state.mark_read("v1___vstr")
    assert conv.unread == 0


def test_resolve_and_hand_back_end_the_wait() -> None:
    sim = DeskSim()
    sim.customer("v1___vstr", "needs_human")
    sim.request("sam", p.HandBack(id=rid(), channel="v1___vstr"))
    conv = sim.console().get("v1___vstr")
    assert conv is not None and (conv.mode, conv.waiting_since, conv.urgency) == ("ai", None, "normal")
    sim.customer("v2___vstr", "escalate_urgent")
    sim.request("sam", p.Resolve(id=rid(), channel="v2___vstr"))
    conv = sim.console().get("v2___vstr")
    assert conv is not None and (conv.status, conv.waiting_since, conv.escalated) == ("resolved", None, False)
    sim.request("bob", p.Reopen(id=rid(), channel="v2___vstr"))
    conv = sim.console().get("v2___vstr")
    assert conv is not None and (conv.status, conv.waiting_since, conv.urgency) == ("open", sim.now, "normal")


def test_message_before_opened_is_hidden_until_the_fact() -> None:
    state = Reducer(BOT)
    state.apply_message("v9___vstr", sender="customer", at=T0, text="first!", seq=1)
    assert state.get("v9___vstr") is None and state.members("all") == set()
    opened = p.Opened(
        id=rid(), channel="v9___vstr", at=T0 + 1, customer_uid="v9___vstr", customer_name="Nine"
    )
    state.apply(LogEntry(1, BOT, p.encode(opened)))
    conv = state.get("v9___vstr")
    assert conv is not None and conv.preview == "first!" and conv.customer_name == "Nine"
    assert state.members("ai") == {"v9___vstr"}
    assert state.apply_message("bad id with spaces", sender="customer", at=T0, text="x") is False


def test_notes_and_reasons_are_bounded() -> None:
    sim = DeskSim()
    sim.customer("v1___vstr", "needs_human")
    for n in range(230):
        sim.request("bob", p.Note(id=rid(), channel="v1___vstr", text=f"n{n}"))
        sim.request("bob", p.Escalate(id=rid(), channel="v1___vstr", urgency="high", reason=f"r{n}"))
    conv = sim.console().get("v1___vstr")
    assert conv is not None
    assert len(conv.notes) == 200 and conv.notes[-1].text == "n229"
    assert len(conv.reasons) == 20 and conv.reasons[-1] == "r229"
