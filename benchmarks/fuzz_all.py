"""Long fuzz run: every property target with many examples, plus the codec fuzzers.

    .venv/bin/python benchmarks/fuzz_all.py --examples 5000 [--skip-codec] [--json]

1. The property tests in tests/fuzz (desk event parser, FAQ importers, config loader, theme loader) and
   tests/wukongim/test_codec_properties.py run under pytest with `AGENTDESK_FUZZ_EXAMPLES=N` (tests/fuzz
   read it) and hypothesis' statistics; the passing / failing / invalid example counts per property are
   read from those statistics. (The codec properties keep their own settings in the quick suite; their
   long run is step 2.)
2. benchmarks/fuzz_codec.py --examples N (roundtrip, bytes, mutated).

Prints one line per target with its counts and a total; exit 1 if anything failed (hypothesis' minimal
failing example is in the pytest output, which is printed for failures). No example database is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
TARGETS = ["tests/fuzz", "tests/wukongim/test_codec_properties.py"]

_TEST = re.compile(r"^(\S+::\S+):\s*$")
_COUNTS = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?,(?: and)? (\d+) invalid")
#: outcome labels the properties record with hypothesis.event (e.g. "outcome: accepted")
_EVENT = re.compile(r"\*\s+([\d.]+)%, (outcome: .+)$")
_PHASE = re.compile(r"- during (\w+) phase \(([\d.]+) seconds\)")


def parse_statistics(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for line in text.splitlines():
        m = _TEST.match(line.strip())
        if m and "::" in m.group(1):
            current = m.group(1)
            out[current] = {"passing": 0, "failing": 0, "invalid": 0, "seconds": 0.0, "outcomes": {}}
            continue
        if current is None:
            continue
        if p := _PHASE.search(line):
            out[current]["seconds"] += float(p.group(2))
        if e := _EVENT.search(line.strip()):
            out[current]["outcomes"][e.group(2).removeprefix("outcome: ")] = f"{e.group(1)}%"
        if c := _COUNTS.search(line):
            out[current]["passing"] += int(c.group(1))
            out[current]["failing"] += int(c.group(2))
            out[current]["invalid"] += int(c.group(3))
    return out


def run_properties(examples: int) -> tuple[dict[str, dict[str, Any]], int, str]:
    env = {**os.environ, "AGENTDESK_FUZZ_EXAMPLES": str(examples), "PYTHONHASHSEED": "0"}
    cmd = [PY, "-m", "pytest", *TARGETS, "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return parse_statistics(proc.stdout), proc.returncode, proc.stdout + proc.stderr


def run_codec(examples: int) -> tuple[int, str]:
    cmd = [PY, str(ROOT / "benchmarks" / "fuzz_codec.py"), "--examples", str(examples)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=5000, help="examples per property / per codec fuzzer")
    ap.add_argument("--skip-codec", action="store_true", help="do not run benchmarks/fuzz_codec.py")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()

    t0 = time.perf_counter()
    stats, code, output = run_properties(args.examples)
    result: dict[str, Any] = {
        "examples_requested": args.examples,
        "properties": stats,
        "pytest_exit_code": code,
        "command": f".venv/bin/python benchmarks/fuzz_all.py --examples {args.examples}",
    }
    if code != 0:
        result["pytest_output_tail"] = output[-6000:]
    if not args.skip_codec:
        ccode, cout = run_codec(args.examples)
        result["codec"] = {"exit_code": ccode, "output": cout[-4000:]}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    total_pass = sum(s["passing"] for s in stats.values())
    total_fail = sum(s["failing"] for s in stats.values())
    result["total_passing"] = total_pass
    result["total_failing"] = total_fail
    failed = code != 0 or total_fail > 0 or (result.get("codec", {}).get("exit_code", 0) != 0)

    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        width = max((len(k) for k in stats), default=20)
        print(f"{'property':<{width}}  {'passing':>8}  {'failing':>7}  {'invalid':>7}  {'seconds':>7}")
        for name, s in sorted(stats.items()):
            outcomes = ", ".join(f"{k} {v}" for k, v in s["outcomes"].items())
            print(
                f"{name:<{width}}  {s['passing']:>8}  {s['failing']:>7}  {s['invalid']:>7}  {s['seconds']:>7.1f}"
                + (f"  ({outcomes})" if outcomes else "")
            )
        print(f"{'total':<{width}}  {total_pass:>8}  {total_fail:>7}")
        if code != 0:
            print("\npytest failed:\n" + output[-6000:])
        if "codec" in result:
            print("\nbenchmarks/fuzz_codec.py:\n" + result["codec"]["output"])
        print(f"\n{result['seconds']} s; {'FAILED' if failed else 'no failure'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
