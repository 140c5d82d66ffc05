"""When the desk bot is gone, the simulated customers stop waiting for it (they read `DeskBot.running`),
and the summary says the bot stopped."""

from __future__ import annotations

from pathlib import Path

from agentdesk.demo import Demo, DemoOptions
from agentdesk.sim.script import parse_scripts


async def test_customers_stop_waiting_when_the_bot_is_not_running(tmp_path: Path) -> None:
    scripts, problems = parse_scripts(
        '{"id": "gone-1", "customer": {"uid": "c-gone", "name": "Eve"}, "turns": ["运费怎么算？", "还在吗"]}\n'
    )
    assert problems == []
    demo = Demo(DemoOptions(headless=True, data=tmp_path / "data"))
    await demo.start()
    try:
        assert demo.bot is not None and demo.bot.running
        await demo.bot.stop()  # the bot is gone (as after a fatal error); the server still runs
        assert not demo.bot.running
        results = await demo.replayer(scripts).run()
        # both turns were sent and neither waited out its reply timeout: no "no reply" error
        assert results[0].finished and results[0].sent == 2 and results[0].errors == []
        assert demo.errors == ["the desk bot stopped: it is not running"]
    finally:
        await demo.stop()
