"""Many simulated customers at once: `Replayer` runs one `SimCustomer` per script, concurrently.

Bounded everywhere: at most `concurrency` customers are connected at a time, every customer's waits are
bounded by its `Pace`, and `run(deadline=…)` stops whatever is still running when the deadline passes
(those customers keep what they got so far, plus an error saying they were stopped). Every script gets a
result, also those that never started. With ``api_url`` (and ``manager_token`` if the server needs one)
each customer catches up over REST after a reconnect (see `SimCustomer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from agentdesk.sim.customer import FAST, CustomerResult, Pace, SimCustomer
from agentdesk.sim.script import Script, visitor_uids


class Replayer:
    def __init__(
        self,
        scripts: Sequence[Script],
        *,
        ws_url: str,
        api_url: str | None = None,
        manager_token: str | None = None,
        pace: Pace = FAST,
        concurrency: int = 8,
        handed_over: Callable[[str], bool] | None = None,
        on_log: Callable[[str], None] | None = None,
        uid_salt: str = "",
    ) -> None:
        self.scripts = list(scripts)
        self.uids = visitor_uids(self.scripts, salt=uid_salt)
        self.pace = pace
        self.concurrency = max(1, concurrency)
        self.customers = [
            SimCustomer(
                s,
                uid,
                ws_url=ws_url,
                api_url=api_url,
                manager_token=manager_token,
                pace=pace,
                handed_over=handed_over,
                on_log=on_log,
            )
            for s, uid in zip(self.scripts, self.uids, strict=True)
        ]
        self._started: set[int] = set()

    async def run(
        self, *, deadline: float | None = None, stop: asyncio.Event | None = None
    ) -> list[CustomerResult]:
        """Replay every script; `deadline` is a `time.monotonic()` value (None = until all finish);
        setting `stop` ends the replay early. Returns one result per script, in order."""
        gate = asyncio.Semaphore(self.concurrency)
        tasks = [
            asyncio.create_task(self._one(i, c, gate), name=f"sim-{c.uid}")
            for i, c in enumerate(self.customers)
        ]
        stopper = asyncio.create_task((stop or asyncio.Event()).wait(), name="sim-stop")
        try:
            pending = set(tasks)
            while pending and not stopper.done():
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    break
                done, _ = await asyncio.wait(
                    {*pending, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                pending -= done
        finally:
            for t in (*tasks, stopper):
                t.cancel()
            for t in (*tasks, stopper):
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        for i, c in enumerate(self.customers):
            if not c.result.finished:
                note = (
                    "stopped before the script finished"
                    if i in self._started
                    else "not started: the run ended first"
                )
                if note not in c.result.errors and not any(
                    e.startswith("could not connect") for e in c.result.errors
                ):
                    c.result.errors.append(note)
        return [c.result for c in self.customers]

    async def _one(self, index: int, customer: SimCustomer, gate: asyncio.Semaphore) -> None:
        if self.pace.start_gap and index:
            await asyncio.sleep(self.pace.start_gap * index)
        async with gate:
            self._started.add(index)
            try:
                await customer.run()
            except Exception as exc:  # run() handles its own errors; this is a last resort
                customer.result.errors.append(f"simulated customer failed: {type(exc).__name__}: {exc}")
