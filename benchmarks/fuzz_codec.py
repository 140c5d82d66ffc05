"""Long fuzz run of the codec properties (the quick versions run in tests/wukongim).

    .venv/bin/python benchmarks/fuzz_codec.py --examples 20000

Three fuzzers, each with hypothesis and `--examples` inputs:
  roundtrip  random packets at random versions, encoded and fed in random chunks → same packets
  bytes      arbitrary bytes in random chunks → packets or ProtocolError, chunking-independent
  mutated    vectors with bit flips / truncations / insertions / deletions → same guarantee
Any other exception, hang or mismatch stops the run with hypothesis' minimal failing example.
Prints what the inputs turned into (packet types, ProtocolError reasons) so a run that only ever
exercised one error path is visible.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentdesk.wukongim import packets as P
from agentdesk.wukongim.codec import Decoder, encode

ROOT = Path(__file__).resolve().parents[1]


def _load_strategies() -> ModuleType:
    """The strategies and helpers live with the quick tests; one definition for both."""
    path = ROOT / "tests" / "wukongim" / "test_codec_properties.py"
    spec = importlib.util.spec_from_file_location("_codec_properties", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _feed(
    dec: Decoder, chunks: list[bytes], counts: Counter[str]
) -> tuple[list[P.Packet | P.UnknownPacket], bool]:
    out: list[P.Packet | P.UnknownPacket] = []
    for chunk in chunks:
        try:
            out += dec.feed(chunk)
        except P.ProtocolError as exc:
            counts["ProtocolError: " + re.sub(r"\d+", "N", str(exc))[:70]] += 1
            return out, True
        if dec.buffered > dec.max_remaining + 5:
            raise AssertionError(f"buffered {dec.buffered} bytes")
    for packet in out:
        counts[type(packet).__name__] += 1
    return out, False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fuzz the WuKongIM codec")
    ap.add_argument("--examples", type=int, default=5000, help="inputs per fuzzer")
    ap.add_argument("--only", choices=("roundtrip", "bytes", "mutated"), action="append")
    args = ap.parse_args(argv)
    props = _load_strategies()
    run = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    cuts = st.lists(st.integers(0, 100_000), max_size=16)
    results: dict[str, Counter[str]] = {}

    def roundtrip() -> Counter[str]:
        counts: Counter[str] = Counter()

        @run
        @given(
            version=st.sampled_from(props.VERSIONS),
            packets=st.lists(props.PACKETS, min_size=1, max_size=12),
            cuts=cuts,
        )
        def check(version: int, packets: list[P.Packet], cuts: list[int]) -> None:
            counts["examples"] += 1
            wire, expected, current = bytearray(), [], version
            for packet in packets:
                wire += encode(packet, current)
                expected.append(props.on_wire(packet, current))
                if (
                    isinstance(packet, P.Connack)
                    and packet.server_version is not None
                    and packet.server_version <= 5
                ):
                    current = packet.server_version
            got, failed = _feed(Decoder(version), props._split(bytes(wire), cuts), counts)
            assert not failed and got == expected

        check()
        return counts

    def fuzz(strategy: st.SearchStrategy[tuple[int, bytes]]) -> Counter[str]:
        counts: Counter[str] = Counter()

        @run
        @given(stream=strategy, cuts=cuts)
        def check(stream: tuple[int, bytes], cuts: list[int]) -> None:
            counts["examples"] += 1
            version, data = stream
            whole, whole_failed = _feed(Decoder(version), [data], Counter())
            chunked, chunked_failed = _feed(Decoder(version), props._split(data, cuts), counts)
            assert chunked_failed == whole_failed
            assert whole_failed or chunked == whole

        check()
        return counts

    jobs: dict[str, Callable[[], Counter[str]]] = {
        "roundtrip": roundtrip,
        "bytes": lambda: fuzz(st.tuples(st.integers(0, 5), st.binary(max_size=2000))),
        "mutated": lambda: fuzz(props.mutated_streams()),
    }
    for name, job in jobs.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        results[name] = job()
        elapsed = time.perf_counter() - t0
        counts = results[name]
        print(f"== {name}: {counts.pop('examples')} examples in {elapsed:.1f}s, no failures")
        for what, n in counts.most_common():
            print(f"   {n:8d}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
