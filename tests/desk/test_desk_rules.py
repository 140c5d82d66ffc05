"""The bot's authority: the roster and every request rule, on scripted desk logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from deskkit import BOT, ROSTER, T0, DeskSim, facts_of, rid, why

from agentdesk.desk import protocol as p
from agentdesk.desk.rules import (
    Decision,
    Roster,
    RosterError,
    SendToCustomer,
    SubscriberAdd,
    SubscriberRemove,
    decide,
    on_customer_message,
)
from agentdesk.desk.state import Reducer

V = "v1___vstr"
V2 = "v2___vstr"
W = "v2___vstr"


def handed_over(sim: DeskSim, channel: str = V) -> None:
    sim.customer(channel, "ai_ok", name="Visitor")
    sim.customer(channel, "needs_human", "refund_request")


# --- roster ---------------------------------------------------------------------------------------------


def test_roster_loads_roles_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(
        '[users]\nalice = "agent"\nsam = "supervisor"\nada = "admin"\n'
        "[settings]\nsupervisors_watch_ai = true\n"
    )
    roster = Roster.load(path)
    assert roster.role("alice") == "agent"
    assert roster.role("mallory") is None
    assert roster.supervisors() == ("ada", "sam")
    assert roster.supervisors_watch_ai is True


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[users]\nalice = "boss"\n', "users.alice: role must be one of agent, supervisor, admin"),
        ("[users]\nalice = 3\n", "users.alice"),
        ('[users]\n"eve___vstr" = "agent"\n', "users.eve___vstr: uids ending in ___vstr"),
        ('[users]\n"a b" = "agent"\n', "not a valid uid"),
        ('[users]\nalice = "agent"\n[settings]\nwatch = true\n', "settings.watch: unknown setting"),
        (
            '[users]\nalice = "agent"\n[settings]\nsupervisors_watch_ai = "yes"\n',
            "settings.supervisors_watch_ai: must be true or false",
        ),
        ("[settings]\n", "[users] must map each staff uid"),
        ("[users]\n", "[users] must map each staff uid"),
        ('[users]\nalice = "agent"\n[team]\nx = 1\n', "unknown table [team]"),
        ("[users\nalice = 1", "not valid TOML"),
    ],
)
def test_roster_errors_name_the_key(text: str, needle: str) -> None:
    with pytest.raises(RosterError) as err:
        Roster.parse(text, source="roster.toml")
    assert needle in str(err.value)
    assert str(err.value).startswith("roster.toml: ")


def test_missing_roster_file_is_a_roster_error(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="cannot read the roster"):
        Roster.load(tmp_path / "nope.toml")


# --- claim / release / transfer -------------------------------------------------------------------------


def test_concurrent_claims_exactly_one_wins() -> None:
    sim = DeskSim()
    handed_over(sim)
    first = sim.request("alice", p.Claim(id=rid(1), channel=V))
    second = sim.request("bob", p.Claim(id=rid(2), channel=V))
    assert facts_of(first) == ["assigned"]
    assert first.effects == (SubscriberAdd(V, ("alice",)),)
    assert why(second) == "already assigned to alice"
    rejected = second.facts[0]
    assert isinstance(rejected, p.Rejected)
    assert rejected.re == rid(2)
    assert rejected.by == "bob"
    assert rejected.request_kind == "claim"
    console = sim.console()
    conv = console.get(V)
    assert conv is not None and conv.assignee == "alice"
    answer = console.answer(rid(2))
    assert isinstance(answer, p.Rejected) and answer.why == "already assigned to alice"


def test_claim_rejections() -> None:
    sim = DeskSim()
    sim.customer(V, "ai_ok")
    assert "AI is handling" in why(sim.request("alice", p.Claim(id=rid(), channel=V)))
    assert why(sim.request("mallory", p.Claim(id=rid(), channel=V))) == "mallory is not on the desk roster"
    assert why(sim.request("alice", p.Claim(id=rid(), channel=W))) == f"unknown conversation {W}"
    sim.customer(W, "needs_human")
    sim.request("alice", p.Claim(id=rid(), channel=W))
    assert why(sim.request("alice", p.Claim(id=rid(), channel=W))) == "already assigned to you"
    sim.request("alice", p.Resolve(id=rid(), channel=W))
    assert "resolved" in why(sim.request("bob", p.Claim(id=rid(), channel=W)))


def test_release_only_by_assignee_or_supervisor() -> None:
    sim = DeskSim()
    handed_over(sim)
    assert why(sim.request("alice", p.Release(id=rid(), channel=V))) == "the conversation is not assigned"
    sim.request("alice", p.Claim(id=rid(), channel=V))
    assert (
        why(sim.request("bob", p.Release(id=rid(), channel=V))) == "only alice or a supervisor may release it"
    )
    released = sim.request("sam", p.Release(id=rid(), channel=V))
    assert facts_of(released) == ["released"]
    assert released.effects == (SubscriberRemove(V, ("alice",)),)
    console = sim.console()
    assert console.members("unassigned") == {V}
    assert console.members("mine", "alice") == set()


def test_transfer() -> None:
    sim = DeskSim()
    handed_over(sim)
    sim.request("alice", p.Claim(id=rid(), channel=V))
    assert (
        why(sim.request("alice", p.Transfer(id=rid(), channel=V, to="zed")))
        == "zed is not on the desk roster"
    )
    assert "only the assignee (alice)" in why(sim.request("bob", p.Transfer(id=rid(), channel=V, to="bob")))
    assert (
        why(sim.request("alice", p.Transfer(id=rid(), channel=V, to="alice"))) == "already assigned to alice"
    )
    moved = sim.request("alice", p.Transfer(id=rid(), channel=V, to="bob"))
    assert facts_of(moved) == ["assigned"]
    assert moved.effects == (SubscriberAdd(V, ("bob",)), SubscriberRemove(V, ("alice",)))
    assert sim.console().members("mine", "bob") == {V}


# --- escalate / take over / hand back -------------------------------------------------------------------


def test_escalate_sets_urgency_reason_note_and_subscribes_supervisors() -> None:
    sim = DeskSim()
    sim.customer(V, "ai_ok")
    esc = sim.request(
        "alice", p.Escalate(id=rid(), channel=V, urgency="urgent", reason="legal", note="lawyer")
    )
    assert facts_of(esc) == ["escalated", "mode_changed"]
    assert esc.effects == (SubscriberAdd(V, ("ada", "sam")),)
    conv = sim.console().get(V)
    assert conv is not None
    assert (conv.urgency, conv.escalated, conv.mode, conv.reasons) == ("urgent", True, "assist", ["legal"])
    assert [(n.by, n.text) for n in conv.notes] == [("alice", "lawyer")]
    assert conv.waiting_since == T0 + 2
    assert sim.console().members("escalated") == {V}


def test_take_over_and_hand_back() -> None:
    sim = DeskSim()
    sim.customer(V, "ai_ok")
    assert (
        why(sim.request("alice", p.TakeOver(id=rid(), channel=V)))
        == "only a supervisor or an admin may take over"
    )
    taken = sim.request("sam", p.TakeOver(id=rid(), channel=V))
    assert facts_of(taken) == ["mode_changed", "assigned"]
    assert taken.effects == (SubscriberAdd(V, ("sam",)),)
    conv = sim.console().get(V)
    assert conv is not None and (conv.mode, conv.assignee) == ("human", "sam")
    assert why(sim.request("sam", p.TakeOver(id=rid(), channel=V))) == "you have already taken it over"
    assert "only sam or a supervisor" in why(sim.request("alice", p.HandBack(id=rid(), channel=V)))
    back = sim.request("sam", p.HandBack(id=rid(), channel=V))
    assert facts_of(back) == ["mode_changed", "released"]
    assert back.effects == ()  # a supervisor keeps watching
    conv = sim.console().get(V)
    assert conv is not None and (conv.mode, conv.assignee) == ("ai", None)
    assert (
        why(sim.request("sam", p.HandBack(id=rid(), channel=V)))
        == "the AI is already handling this conversation"
    )
    assert sim.console().members("ai") == {V}


def test_take_over_from_an_agent_keeps_the_agent_subscribed() -> None:
    sim = DeskSim()
    handed_over(sim)
    sim.request("alice", p.Claim(id=rid(), channel=V))
    taken = sim.request("ada", p.TakeOver(id=rid(), channel=V))
    assert facts_of(taken) == ["mode_changed", "assigned"]
    assert sim.console().members("mine", "ada") == {V}


def test_resolve_reopen_note_label_set_mode() -> None:
    sim = DeskSim()
    handed_over(sim)
    sim.request("alice", p.Claim(id=rid(), channel=V))
    assert (
        why(sim.request("bob", p.Resolve(id=rid(), channel=V))) == "only alice or a supervisor may resolve it"
    )
    assert why(sim.request("bob", p.Reopen(id=rid(), channel=V))) == "the conversation is already open"
    assert facts_of(sim.request("alice", p.Resolve(id=rid(), channel=V))) == ["resolved"]
    assert "resolved" in why(sim.request("alice", p.Resolve(id=rid(), channel=V)))
    assert sim.console().members("all") == set()
    assert facts_of(sim.request("bob", p.Reopen(id=rid(), channel=V))) == ["reopened"]
    assert facts_of(sim.request("bob", p.Note(id=rid(), channel=V, text="[b]VIP[/b]"))) == ["noted"]
    assert facts_of(sim.request("bob", p.Label(id=rid(), channel=V, add=("vip", "退款")))) == ["labeled"]
    assert (
        why(sim.request("bob", p.Label(id=rid(), channel=V, add=("vip",))))
        == "the labels are already as asked"
    )
    assert facts_of(sim.request("bob", p.Label(id=rid(), channel=V, remove=("vip",)))) == ["labeled"]
    assert why(sim.request("bob", p.SetMode(id=rid(), channel=V, mode="human"))) == (
        "only a supervisor or an admin may change the mode"
    )
    assert why(sim.request("sam", p.SetMode(id=rid(), channel=V, mode="assist"))) == "already in assist mode"
    to_ai = sim.request("sam", p.SetMode(id=rid(), channel=V, mode="ai"))
    assert facts_of(to_ai) == ["mode_changed", "released"]
    conv = sim.console().get(V)
    assert conv is not None
    assert conv.labels == {"退款"}
    assert [n.text for n in conv.notes] == ["[b]VIP[/b]"]
    assert (conv.status, conv.mode, conv.assignee) == ("open", "ai", None)


def test_same_request_twice_gives_the_same_fact_ids() -> None:
    sim = DeskSim()
    handed_over(sim)
    req = p.Claim(id=rid(7), channel=V)
    once = decide(sim.bot, req, "alice", ROSTER, T0 + 50)
    again = decide(sim.bot, req, "alice", ROSTER, T0 + 50)
    assert once == again
    state = sim.console()
    assert state.apply_fact(once.facts[0]) is True
    assert state.apply_fact(again.facts[0]) is False
    sim.bot.apply_fact(once.facts[0])
    assert decide(sim.bot, req, "alice", ROSTER, T0 + 60) == Decision()  # redelivered: already answered


# --- customer and staff messages -------------------------------------------------------------------------


def test_customer_message_routes() -> None:
    sim = DeskSim()
    first = sim.customer(V, "ai_ok", name="\x1b[31mEve[/]\u202e")
    assert facts_of(first) == ["opened"] and first.autopilot is True
    opened = first.facts[0]
    assert isinstance(opened, p.Opened) and opened.customer_name == "\x1b[31mEve[/]\u202e"
    human = sim.customer(V, "needs_human", "refund_request")
    assert facts_of(human) == ["queued", "mode_changed"] and human.autopilot is False
    assert human.effects == (SendToCustomer(V, "handover"),)
    assert sim.customer(V, "ai_ok").autopilot is False  # a person has it now
    assert facts_of(sim.customer(V, "needs_human")) == []  # already waiting
    urgent = sim.customer(V, "escalate_urgent", "threat")
    assert facts_of(urgent) == ["queued"]
    assert urgent.effects == (SubscriberAdd(V, ("ada", "sam")),)
    conv = sim.console().get(V)
    assert conv is not None
    assert (conv.customer_name, conv.urgency, conv.reasons) == (
        "\x1b[31mEve[/]\u202e",
        "urgent",
        ["refund_request", "threat"],
    )


def test_unknown_route_counts_as_needs_human_and_resolved_reopens() -> None:
    sim = DeskSim()
    d = sim.customer(V, "maybe", "low confidence")
    assert facts_of(d) == ["opened", "queued", "mode_changed"]
    queued = d.facts[1]
    assert isinstance(queued, p.Queued) and queued.reason == "unknown triage route 'maybe': low confidence"
    sim.request("sam", p.Resolve(id=rid(), channel=V))
    again = sim.customer(V, "needs_human")
    assert facts_of(again) == ["reopened", "queued"]


def test_urgent_first_message_and_watching_supervisors() -> None:
    roster = Roster.parse('[users]\nsam = "supervisor"\n[settings]\nsupervisors_watch_ai = true\n')
    d = on_customer_message(Reducer(BOT), V, "escalate_urgent", "fraud", T0, roster=roster, message_key="m1")
    assert facts_of(d) == ["opened", "queued", "mode_changed"]
    assert d.effects == (SubscriberAdd(V, ("sam",)), SendToCustomer(V, "urgent_handover"))


def test_default_mode_assist_opens_the_conversation_in_assist() -> None:
    roster = Roster.parse('[users]\nsam = "supervisor"\n[settings]\nsupervisors_watch_ai = true\n')
    sim = DeskSim(roster=roster)
    first = sim.customer(V, "ai_ok", name="Eve", default_mode="assist")
    assert facts_of(first) == ["opened", "mode_changed"] and first.autopilot is False
    changed = first.facts[1]
    assert isinstance(changed, p.ModeChanged) and changed.mode == "assist"
    assert first.effects == (SubscriberAdd(V, ("sam",)),)  # watching supervisors, no handover text
    # the same message in the default mode "ai" (the keyword's default): opened only, autopilot allowed
    plain = on_customer_message(Reducer(BOT), V, "ai_ok", "", T0, roster=roster, message_key="m1")
    assert facts_of(plain) == ["opened"] and plain.autopilot is True
    # needs_human in a new assist conversation: queued, and no second mode change or handover text
    other = sim.customer(V2, "needs_human", "refund", default_mode="assist")
    assert facts_of(other) == ["opened", "mode_changed", "queued"]
    assert not any(isinstance(e, SendToCustomer) for e in other.effects)
    # the default mode only applies to a new conversation
    later = sim.customer(V, "escalate_urgent", "threat", default_mode="assist")
    assert facts_of(later) == ["queued"]
    conv = sim.console().get(V)
    assert conv is not None and conv.mode == "assist" and conv.waiting_since is not None


def test_first_staff_reply_closes_the_wait() -> None:
    sim = DeskSim()
    handed_over(sim)  # queued at T0 + 2
    sim.request("alice", p.Claim(id=rid(), channel=V))
    reply = sim.staff_reply(V, "alice", dt=60)
    assert facts_of(reply) == ["responded"]
    responded = reply.facts[0]
    assert isinstance(responded, p.Responded) and responded.waited == 61.0
    assert facts_of(sim.staff_reply(V, "alice")) == []  # nobody is waiting any more
    conv = sim.console().get(V)
    assert conv is not None and conv.waiting_since is None and conv.first_response_at == T0 + 63


def test_oversized_customer_name_is_clipped_by_the_bot_and_still_parses() -> None:
    sim = DeskSim()
    sim.customer(V, "ai_ok", name="A" * 5000 + "\u202e")
    conv = sim.console().get(V)
    assert conv is not None and len(conv.customer_name) == p.MAX_NAME
    assert conv.customer_name.startswith("AAA") and conv.customer_name.endswith("…")


def test_lone_surrogate_in_a_name_does_not_break_the_bot() -> None:
    sim = DeskSim()
    sim.customer(V, "ai_ok", name="Eve\ud800")
    conv = sim.console().get(V)
    assert conv is not None and conv.customer_name == "Eve?"


def test_empty_note_is_refused() -> None:
    sim = DeskSim()
    handed_over(sim)
    assert why(sim.request("bob", p.Note(id=rid(), channel=V, text=" \n"))) == "the note is empty"


def test_a_visitor_posting_on_the_desk_channel_is_refused() -> None:
    sim = DeskSim()
    handed_over(sim)
    assert why(sim.request(V, p.Claim(id=rid(), channel=V))) == f"{V} is not on the desk roster"
    assert why(sim.request(V, p.SetMode(id=rid(), channel=V, mode="ai"))) == f"{V} is not on the desk roster"
    conv = sim.console().get(V)
    assert conv is not None and (conv.assignee, conv.mode) == (None, "assist")
