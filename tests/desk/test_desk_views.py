"""Views, queue order, next-urgent, filtering and the supervisor dashboard, on a scripted desk."""

from __future__ import annotations

from deskkit import T0, DeskSim, rid
from hypothesis import given, settings
from hypothesis import strategies as st

from agentdesk.desk import protocol as p
from agentdesk.desk import views
from agentdesk.desk.state import Reducer

A, B, C, D, E, F = (f"{x}___vstr" for x in "abcdef")


def desk() -> tuple[DeskSim, Reducer]:
    """a: AI alone · b: needs a person (normal, waiting since T0+2) · c: urgent (T0+3)
    d: needs a person (normal, waiting since T0+4), claimed by alice · e: low escalation by bob (T0+6)
    f: resolved"""
    sim = DeskSim()
    sim.customer(A, "ai_ok", name="Ann")  # T0+1
    sim.customer(B, "needs_human", "refund", name="Bo [red]")  # T0+2
    sim.customer(C, "escalate_urgent", "fraud", name="Cy")  # T0+3
    sim.customer(D, "needs_human", "delivery", name="Di")  # T0+4
    sim.request("alice", p.Claim(id=rid(), channel=D))  # T0+5
    sim.customer(E, "ai_ok", name="Ed", dt=0)  # T0+5
    sim.request("bob", p.Escalate(id=rid(), channel=E, urgency="low", reason="asks for manager"))  # T0+6
    sim.customer(F, "needs_human", name="Fay")  # T0+7
    sim.request("sam", p.Resolve(id=rid(), channel=F))  # T0+8
    state = sim.console()
    state.apply_message(B, sender="customer", at=T0 + 2, text="where is my refund", seq=1)
    state.apply_message(B, sender="customer", at=T0 + 3, text="hello??", seq=2)
    return sim, state


def test_counts_per_view() -> None:
    _, state = desk()
    assert views.counts(state, "alice") == {"mine": 1, "unassigned": 3, "escalated": 2, "ai": 1, "all": 5}
    assert views.counts(state, "bob")["mine"] == 0
    assert views.counts(state, None)["mine"] == 0


def test_queue_sorted_by_urgency_then_waiting_time() -> None:
    _, state = desk()
    now = T0 + 100
    rows = views.queue(state, "all", "alice", now)
    assert [r.channel_id for r in rows] == [C, B, D, A, E]  # e was escalated as low
    c, b = rows[0], rows[1]
    assert (c.urgency, c.mode, c.waiting, c.escalated) == ("urgent", "assist", 97.0, False)
    assert (b.customer_name, b.preview, b.unread, b.assignee, b.reason) == (
        "Bo [red]",
        "hello??",
        2,
        None,
        "refund",
    )
    assert rows[2].assignee == "alice" and rows[3].waiting is None and rows[4].urgency == "low"
    assert [r.channel_id for r in views.queue(state, "unassigned", "alice", now)] == [C, B, E]
    assert [r.channel_id for r in views.queue(state, "escalated", "alice", now)] == [C, E]
    assert [r.channel_id for r in views.queue(state, "mine", "alice", now)] == [D]
    assert [r.channel_id for r in views.queue(state, "ai", "alice", now)] == [A]
    assert [r.channel_id for r in views.queue(state, "all", "alice", now, limit=2)] == [C, B]


def test_queue_follows_changes() -> None:
    sim, state = desk()
    before = views.queue(state, "unassigned", "bob", T0 + 100)
    sim.request("bob", p.Claim(id=rid(), channel=C))
    state.apply_many(sim.log)
    after = views.queue(state, "unassigned", "bob", T0 + 100)
    assert [r.channel_id for r in before] == [C, B, E]
    assert [r.channel_id for r in after] == [B, E]
    assert [r.channel_id for r in views.queue(state, "mine", "bob", T0 + 100)] == [C]


def test_filter_as_you_type() -> None:
    _, state = desk()
    rows = views.queue(state, "all", "alice", T0 + 100)
    assert [r.channel_id for r in rows if views.matches(r, "bo")] == [B]
    assert [r.channel_id for r in rows if views.matches(r, "REFUND  hello")] == [B]
    assert [r.channel_id for r in rows if views.matches(r, "alice")] == [D]
    assert [r.channel_id for r in rows if views.matches(r, "urgent")] == [C]
    assert [r.channel_id for r in rows if views.matches(r, "[red]")] == [B]  # markup is just text
    assert len([r for r in rows if views.matches(r, "  ")]) == 5
    assert [r.channel_id for r in views.queue(state, "all", "alice", T0 + 100, text="a___vstr")] == [A]


def test_next_urgent() -> None:
    sim, state = desk()
    now = T0 + 100
    top = views.next_urgent(state, "alice", now)
    assert top is not None and top.channel_id == C
    second = views.next_urgent(state, "alice", now, exclude=C)
    assert second is not None and second.channel_id == B  # normal, waiting longest
    assert views.next_urgent(state, "alice", now, views=("ai",)) is None  # nobody waits on the AI
    for ch in (B, C, D, E):
        sim.request("sam", p.Resolve(id=rid(), channel=ch))
    state.apply_many(sim.log)
    assert views.next_urgent(state, "alice", now) is None


def test_next_urgent_skips_conversations_that_owe_nothing() -> None:
    sim = DeskSim()
    sim.customer(A, "needs_human")  # normal, waiting...
    sim.staff_reply(A, "sam")  # ...answered: nothing owed
    sim.customer(B, "needs_human")
    sim.request("bob", p.Escalate(id=rid(), channel=B, urgency="low", reason="feedback"))  # low, waiting
    state = sim.console()
    low = views.next_urgent(state, "alice", T0 + 100)
    assert low is not None and (low.channel_id, low.urgency) == (B, "low")
    sim.staff_reply(B, "bob")
    state.apply_many(sim.log)
    assert views.next_urgent(state, "alice", T0 + 100) is None


def test_dashboard() -> None:
    sim, state = desk()
    sim.staff_reply(D, "alice", dt=60)  # T0+68: D waited 64 s
    state.apply_many(sim.log)
    now = T0 + 300
    dash = views.dashboard(state, "sam", now, span=300, step=60)
    assert dash.counts == {"mine": 0, "unassigned": 3, "escalated": 2, "ai": 1, "all": 5}
    assert dash.resolved == 1
    assert dash.autopilot_share == 1 / 5
    assert dash.autopilot_resolved_share == 0.0
    assert dash.waiting == 3  # b, c, e (d was answered)
    assert dash.median_wait == now - (T0 + 3)  # waits 298 (b), 297 (c), 295 (e)
    assert [t for t, _ in dash.queue_length] == [T0 + 60, T0 + 120, T0 + 180, T0 + 240, T0 + 300]
    assert [n for _, n in dash.queue_length] == [3, 3, 3, 3, 3]
    assert dash.first_response == (
        (T0 + 60, None),
        (T0 + 120, 64.0),
        (T0 + 180, None),
        (T0 + 240, None),
        (T0 + 300, None),
    )


def test_queue_length_series_replays_history() -> None:
    sim = DeskSim()
    sim.customer(A, "needs_human", dt=0)  # T0: 1 waiting
    sim.customer(B, "needs_human", dt=100)  # T0+100: 2
    sim.request("alice", p.Claim(id=rid(), channel=A), dt=100)  # T0+200: 1
    sim.request("alice", p.Resolve(id=rid(), channel=A), dt=100)  # still 1 (A was assigned)
    sim.request("bob", p.Resolve(id=rid(), channel=B), dt=100)  # T0+400: 0
    state = sim.console()
    dash = views.dashboard(state, None, T0 + 450, span=600, step=100)
    assert [t - T0 for t, _ in dash.queue_length] == [-50, 50, 150, 250, 350, 450]
    assert [n for _, n in dash.queue_length] == [0, 1, 2, 1, 1, 0]
    empty = views.dashboard(Reducer("deskbot"), None, T0)
    assert (empty.autopilot_share, empty.median_wait, empty.autopilot_resolved_share) == (None, None, None)
    assert len(empty.queue_length) == 12 and all(n == 0 for _, n in empty.queue_length)


# --- the incremental queue order ------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["customer", "staff", "claim", "release", "resolve", "escalate", "read", "message"]),
        st.sampled_from([A, B, C, D, E, F]),
        st.sampled_from(["ai_ok", "needs_human", "escalate_urgent"]),
        st.sampled_from(["alice", "bob"]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(OPS, st.integers(min_value=0, max_value=3))
def test_the_incremental_queue_order_equals_a_full_sort(
    ops: list[tuple[str, str, str, str]], every: int
) -> None:
    """Whatever happens between two looks at the queue (messages, claims, escalations, resolves, reads), the
    order kept up to date by moving the changed conversations equals sorting every conversation again."""
    sim = DeskSim()
    state = sim.bot
    for n, (op, channel, route, who) in enumerate(ops):
        if op == "customer":
            sim.customer(channel, route, name=channel[:1])
        elif op == "staff" and channel in state.conversations:
            sim.staff_reply(channel, who)
        elif op == "claim":
            sim.request(who, p.Claim(id=rid(), channel=channel))
        elif op == "release":
            sim.request(who, p.Release(id=rid(), channel=channel))
        elif op == "resolve":
            sim.request(who, p.Resolve(id=rid(), channel=channel))
        elif op == "escalate":
            sim.request(who, p.Escalate(id=rid(), channel=channel, urgency="high", reason="x"))
        elif op == "read":
            state.mark_read(channel)
        elif op == "message":
            sim.now += 1
            state.apply_message(channel, sender="customer", at=sim.now, text="more", seq=len(sim.log) + n + 1)
        if every and n % every:
            continue  # several changes between two looks
        for view in views.VIEWS:
            for me in ("alice", "bob"):
                got = views.queue(state, view, me, sim.now)
                convs = state.conversations
                want = sorted(state.members(view, me), key=lambda cid: convs[cid].sort_key())
                assert views._sorted_ids(state, view, me) == want
                cached = views._SORTED.pop(state)  # the same rows from a cold cache
                assert views.queue(state, view, me, sim.now) == got
                views._SORTED[state] = cached
