"""Fault (h): the cache directory runs out of space while messages arrive and a reply waits in the outbox.

The staff client's message store lives on a small tmpfs that is filled up (a real ENOSPC from the kernel,
SQLite answers "database or disk is full"); customers keep writing to a group channel. Needs root for
`mount -t tmpfs` (CI runs as root); elsewhere the test is skipped with that reason.

Asserted: while the disk is full nothing is acknowledged that was not stored (the server re-delivers), the
reply stays in the outbox and is not sent, and the error is reported (StateChanged / last_error). After
space comes back the client recovers by itself: every message stored exactly once, the reply delivered
exactly once, the outbox empty."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import MANAGER, WAIT, dupes, history, wait_for

from agentdesk.devserver.server import DevServer
from agentdesk.wukongim.client import ClientConfig, WuKongIMClient
from agentdesk.wukongim.events import ClientEvent, ConnState, StateChanged
from agentdesk.wukongim.rest import RestClient
from agentdesk.wukongim.store import MessageStore
from fixtures_devserver import DevServerFactory


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (CI runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem completely (bounded: a 4 MiB tmpfs)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 16, 4096, 512, 1):
            with contextlib.suppress(OSError):
                for _ in range(100_000):
                    fh.write(b"\0" * size)

    with pytest.raises(OSError):
        (directory / "probe").write_bytes(b"\0" * 4096)
    return filler


@pytest.mark.parametrize(
    "check",
    [
        "while_full_and_the_reply_after",
        # regression: the seq bookkeeping once advanced past rows that were never written (SQLITE_FULL
        # in COMMIT left the in-memory seq cache ahead of the file), so these were lost for good
        "every_message_after",
    ],
)
async def test_disk_full_keeps_messages_unacked_and_replies_queued(
    check: str, devserver_factory: DevServerFactory, small_disk: Path
) -> None:
    server: DevServer = await devserver_factory()
    rest = RestClient(server.api_url, manager_token=MANAGER)
    token = secrets.token_hex(8)
    await rest.user_token("sam", token)
    await rest.channel_create("g", 2, subscribers=["sam", "cust"])
    sent: list[str] = []

    async def customer_writes(n: int) -> None:
        for _ in range(n):
            cmn = uuid.uuid4().hex
            await rest.message_send(
                "g", 2, {"type": 1, "content": f"msg {cmn}"}, from_uid="cust", client_msg_no=cmn
            )
            sent.append(cmn)

    states: list[StateChanged] = []

    def on_event(ev: ClientEvent) -> None:
        if isinstance(ev, StateChanged):
            states.append(ev)

    cfg = ClientConfig(
        uid="sam",
        token=token,
        api_url=server.api_url,
        ws_url=server.ws_url,
        manager_token=MANAGER,
        backoff_base=0.05,
        backoff_cap=0.3,
    )
    path = small_disk / "messages-sam.sqlite"
    store = MessageStore.open(path)
    client = WuKongIMClient(cfg, store, on_event=on_event)
    try:
        await client.connect(within=WAIT)
        await customer_writes(1)
        await wait_for(lambda: _async(store.count_messages() == 1), what="the first message")
        await client.close()
        store.close()

        # a new session: a reply is queued (written while there is space), then the disk fills up
        store = MessageStore.open(path)
        client = WuKongIMClient(cfg, store, on_event=on_event)
        reply = await client.enqueue("g", 2, {"type": 1, "content": "sam's reply"})
        filler = fill(small_disk)
        await customer_writes(5)
        await client.start()

        async def failing() -> bool:
            return (
                any(s.state is ConnState.RECONNECTING and s.error for s in states[-50:]) and len(states) > 6
            )

        await wait_for(failing, what="the client to hit the full disk")
        assert store.count_messages() == 1  # nothing new could be stored ...
        on_server = [m for m in await history(rest, "sam", "g", 2) if m.from_uid == "sam"]
        assert on_server == []  # ... and the reply was not sent (it could not even be marked as attempted)
        assert [e.client_msg_no for e in store.outbox_all()] == [reply.client_msg_no]
        errors = " ".join(s.error for s in states if s.error).lower()
        assert "full" in errors or "space" in errors, errors  # the cause is reported

        filler.unlink()  # space again

        async def reply_out() -> bool:
            return not store.outbox_all() and client.state is ConnState.ONLINE

        await wait_for(reply_out, what="the client to send its reply after space came back")
        await client.wait_caught_up(within=WAIT)
        on_server = [m for m in await history(rest, "sam", "g", 2) if m.from_uid == "sam"]
        assert [m.client_msg_no for m in on_server] == [reply.client_msg_no]  # exactly once
        if check != "every_message_after":
            return

        async def recovered() -> bool:
            return store.count_messages() == len(sent) + 1

        try:
            await wait_for(recovered, within=10, what="every message to be stored after space came back")
        except AssertionError:
            raise AssertionError(
                f"count {store.count_messages()} of {len(sent) + 1}, outbox {store.outbox_all()}, state {client.state}, "
                f"last errors {[s.error for s in states[-4:]]}, seqs {store.last_seqs()}, chan {store.channel('g', 2)}, gaps {store.gaps('g', 2)}, history {[(m.message_seq, m.from_uid) for m in store.history('g', 2)]}"
            ) from None
        rows = store.history("g", 2, limit=100)
        assert Counter(m.client_msg_no for m in rows if m.from_uid == "cust") == Counter(sent)
        assert dupes(Counter(m.message_id for m in rows)) == {}
        assert store.gaps("g", 2) == []
    finally:
        await client.close()
        store.close()
        await rest.aclose()


def _async(value: bool) -> object:
    async def check() -> bool:
        return value

    return check()
