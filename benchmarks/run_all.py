"""Run every benchmark once and write the report.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--skip NAME ...]

Each benchmark script runs as its own process, one after the other (never in parallel), with the sizes
below (`--quick`: smaller sizes, for a smoke run). Their JSON results (or, for the scripts that only
print, their stdout) are collected into `benchmarks/results/all.json`, together with the machine: CPU
model, cores, memory, Python, Node, load average at start and end, git commit. `docs/performance.md` is
written from that: one Markdown table per benchmark with the figure, the target, the ratio against the
baseline where one runs side by side, and the exact command that produced it.

A benchmark that fails or times out is reported as such (its stderr tail is kept); the others still run.
Figures from a shared machine are indicative: compare ratios from one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
REPORT = ROOT / "docs" / "performance.md"
PY = ".venv/bin/python"


@dataclass
class Bench:
    name: str
    script: str
    full: list[str]
    quick: list[str]
    #: glob (relative to benchmarks/results) of the JSON file the script writes; "" = parse stdout
    result_glob: str = ""
    stdout_json: bool = False
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 900.0
    what: str = ""


BENCHES = [
    Bench(
        "codec",
        "bench_codec.py",
        [],
        ["--iterations", "2000", "--repeats", "3"],
        result_glob="codec.json",
        env={"WKJS_DIR": ".cache/wkjs"},
        what="WuKongIM codec + crypto per packet, Python vs the official JS SDK (wukongimjssdk 1.0.4) on the same bytes",
    ),
    Bench(
        "ingest",
        "bench_ingest.py",
        ["--channels", "1000", "--messages", "20000"],
        ["--channels", "1000", "--messages", "5000"],
        result_glob="bench_ingest-*.json",
        what="RECV → stored → acked over loopback, 1,000 channels",
    ),
    Bench(
        "catchup",
        "bench_catchup.py",
        ["--channels", "500", "--messages", "10000"],
        ["--channels", "500", "--messages", "10000"],
        result_glob="bench_catchup.json",
        what="catch-up after an outage: messages missed across channels while the client was offline",
    ),
    Bench(
        "devserver",
        "bench_devserver.py",
        ["--clients", "1000"],
        ["--clients", "200"],
        result_glob="bench_devserver-*.json",
        what="devserver process with many connected visitors/agents: connect rate, fan-out, memory",
    ),
    Bench(
        "faq",
        "bench_faq.py",
        ["--sizes", "10000", "100000"],
        ["--sizes", "10000", "--queries", "50"],
        result_glob="bench_faq-*.json",
        timeout=1500.0,
        what="FAQ search at 10k / 100k entries vs default FTS5, the ECOSYSTEM.md char-split FTS5 and rapidfuzz",
    ),
    Bench(
        "desk",
        "bench_desk.py",
        [],
        ["--conversations", "2000", "--facts", "20000"],
        what="desk core: fold facts, queue queries, cache rebuild",
    ),
    Bench(
        "console",
        "bench_console.py",
        ["latency", "startup", "memory"],
        [
            "latency",
            "startup",
            "memory",
            "--conversations",
            "500",
            "--seconds",
            "5",
            "--cached",
            "2000",
            "--messages",
            "20000",
        ],
        timeout=1200.0,
        what="console: socket-to-screen latency, start-up, memory",
    ),
    Bench(
        "eval_faq",
        "eval_faq.py",
        ["--json"],
        ["--json"],
        stdout_json=True,
        what="FAQ search quality on the dev queries (not a timing)",
    ),
    Bench(
        "replay_routes",
        "replay_routes.py",
        ["--json"],
        ["--json"],
        stdout_json=True,
        what="dev conversations through devserver + bot: routes taken (not a timing)",
    ),
]


# -- machine ---------------------------------------------------------------------------------------


def _run_text(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except (OSError, ValueError):
        pass
    node = _run_text(["node", "--version"]) if shutil.which("node") else ""
    commit = _run_text(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_run_text(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {
        "cpu_model": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": node,
        "git_commit": commit + ("+uncommitted changes" if dirty else ""),
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- running ---------------------------------------------------------------------------------------


def command_line(b: Bench, quick: bool) -> str:
    args = b.quick if quick else b.full
    env = " ".join(f"{k}={v}" for k, v in b.env.items())
    cmd = " ".join([PY, f"benchmarks/{b.script}", *map(shlex.quote, args)])
    return f"{env} {cmd}".strip()


def run_one(b: Bench, quick: bool) -> dict[str, Any]:
    args = b.quick if quick else b.full
    cmd = [str(ROOT / PY), str(BENCH / b.script), *args]
    start = time.time()
    record: dict[str, Any] = {
        "name": b.name,
        "what": b.what,
        "command": command_line(b, quick),
        "load_before": load(),
    }
    print(f"run_all: {record['command']}", file=sys.stderr, flush=True)
    env = {**os.environ, **b.env}
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=b.timeout, check=False
        )
        record["exit_code"] = proc.returncode
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        record["exit_code"] = None
        record["error"] = f"timed out after {b.timeout:g} s"
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    record["seconds"] = round(time.time() - start, 1)
    record["load_after"] = load()
    record["stdout"] = stdout[-20000:]
    if record.get("exit_code") not in (0, None) or "error" in record:
        record["stderr_tail"] = stderr[-3000:]
    if b.stdout_json:
        try:
            record["result"] = json.loads(stdout)
        except ValueError:
            record["result"] = None
    elif b.result_glob:
        files = [f for f in glob.glob(str(RESULTS / b.result_glob)) if os.path.getmtime(f) >= start - 1]
        parsed = []
        for f in sorted(files):
            try:
                parsed.append({"file": os.path.relpath(f, ROOT), "data": json.loads(Path(f).read_text())})
            except ValueError:
                continue
        record["result"] = parsed
    print(f"run_all: {b.name} exit {record.get('exit_code')} in {record['seconds']} s", file=sys.stderr)
    return record


# -- report ----------------------------------------------------------------------------------------


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


Row = tuple[str, str, str, str]  # figure, value, target, ratio vs baseline


def rows_codec(r: dict[str, Any]) -> list[Row]:
    data = r["result"][0]["data"]
    py = data["python_us_per_op"]
    sdk = (data.get("sdk") or {}).get("us_per_op", {})
    out: list[Row] = []
    for case in ("recv_decode", "recv_decode_verify_decrypt", "send_encrypt_encode"):
        ratio = (
            f"{sdk[case] / py[case]:.1f}× faster than the JS SDK ({fmt(sdk[case], 2)} µs)"
            if case in sdk
            else "—"
        )
        out.append(
            (f"{case} (Python)", f"{fmt(py[case], 2)} µs/op ({fmt(1e6 / py[case], 0)} ops/s)", "—", ratio)
        )
    checks = (data.get("sdk") or {}).get("checks")
    if checks:
        out.append(("SDK cross-check (same plaintext, same SEND bytes)", str(checks), "all true", "—"))
    return out


def rows_ingest(r: dict[str, Any]) -> list[Row]:
    data = r["result"][-1]["data"]
    return [
        (
            f"{x['mode']}: {x['messages']:,} messages",
            f"{fmt(x['messages_per_second'], 0)} msg/s ({x['seconds']} s, {x['stored']:,} stored)",
            "—",
            "—",
        )
        for x in data["results"]
    ]


def rows_catchup(r: dict[str, Any]) -> list[Row]:
    d = r["result"][0]["data"]
    return [
        (
            f"reconnect → all {d['missed']:,} missed messages ({d['channels']} channels) stored",
            f"{d['seconds_to_all_stored']:.2f} s ({fmt(d['messages_per_second'], 0)} msg/s)",
            f"≤ {d['target_seconds']:g} s",
            "—",
        ),
        ("reconnect → `CaughtUp` event", f"{d['seconds_to_caughtup_event']:.2f} s", "—", "—"),
        ("lost", str(d["lost"]), "0", "—"),
        ("duplicated (stored / events)", f"{d['duplicated']} / {d['duplicate_events']}", "0", "—"),
        ("meets the target", "yes" if d["meets_target"] else "**no**", "yes", "—"),
    ]


def rows_devserver(r: dict[str, Any]) -> list[Row]:
    d = r["result"][-1]["data"]
    rss = d["rss_kib"]
    out: list[Row] = [
        (
            f"{d['clients']:,} clients connect (X25519 handshake each)",
            f"{fmt(d['connect']['per_second'], 0)} connections/s",
            "—",
            "—",
        ),
        (
            f"group fan-out to {d['group']['subscribers']:,} subscribers",
            f"{fmt(d['group']['deliveries_per_second'], 0)} deliveries/s",
            "—",
            "—",
        ),
        (
            f"{d['visitors']['visitor_channels']:,} visitors writing, {d['visitors']['agents']} agents",
            f"{fmt(d['visitors']['messages_per_second'], 0)} msg/s, {fmt(d['visitors']['deliveries_per_second'], 0)} agent deliveries/s",
            "—",
            "—",
        ),
    ]
    for k, v in rss.items():
        out.append((f"server RSS {k}", f"{v['VmRSS'] / 1024:.0f} MiB", "—", "—"))
    return out


def rows_faq(r: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for item in r["result"]:
        d = item["data"]
        ours = d["agentdesk"]
        for approach in ("agentdesk", "fts5-default", "fts5-charsplit", "rapidfuzz"):
            a = d.get(approach)
            if not a:
                continue
            if approach == "agentdesk":
                ratio = "— (the rows below compare to this one)"
            else:
                r50, r95 = a["p50_ms"] / ours["p50_ms"], a["p95_ms"] / ours["p95_ms"]
                ratio = f"p50 {_times(r50)}, p95 {_times(r95)} than agentdesk"
            out.append(
                (
                    f"{d['entries']:,} entries, {approach}",
                    f"p50 {a['p50_ms']:.2f} ms, p95 {a['p95_ms']:.2f} ms; import {a['import_s']} s, {a['size_mb']} MB",
                    "—",
                    ratio,
                )
            )
    return out


def _times(r: float) -> str:
    return f"{r:.1f}× slower" if r >= 1 else f"{1 / r:.1f}× faster"


def rows_stdout(pattern: str) -> Callable[[dict[str, Any]], list[Row]]:
    rx = re.compile(pattern)

    def rows(r: dict[str, Any]) -> list[Row]:
        return [
            (m.group(1).strip(), m.group(2).strip(), "—", "—")
            for m in map(rx.match, r["stdout"].splitlines())
            if m
        ]

    return rows


def rows_console(r: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for line in r["stdout"].splitlines():
        if line.startswith(("latency:", "startup:", "memory:")):
            head, _, rest = line.partition(": ")
            out.append((head, rest, "—", "—"))
    return out


def rows_eval_faq(r: dict[str, Any]) -> list[Row]:
    d = r.get("result")
    if not isinstance(d, dict):
        return []
    ours, base = d["agentdesk"]["overall"], d["naive_baseline"]["overall"]
    out: list[Row] = []
    for k in ("hit@1", "hit@3", "hit@5"):
        out.append(
            (
                f"{k} on {ours['n']} answerable dev queries",
                f"{ours[k]:.3f}",
                "—",
                f"naive char-bigram BM25 baseline {base[k]:.3f} ({ours[k] / base[k]:.2f}×)",
            )
        )
    out.append(("no-answer queries recognised", str(ours["no_answer"]), "—", f"baseline {base['no_answer']}"))
    return out


def rows_replay(r: dict[str, Any]) -> list[Row]:
    d = r.get("result")
    if not isinstance(d, dict):
        return []
    out: list[Row] = []
    for k, v in d.items():
        if isinstance(v, int | float | str | bool):
            out.append((k, str(v), "—", "—"))
        elif isinstance(v, dict) and len(json.dumps(v, ensure_ascii=False)) < 200:
            out.append((k, json.dumps(v, ensure_ascii=False), "—", "—"))
    return out[:20]


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "codec": rows_codec,
    "ingest": rows_ingest,
    "catchup": rows_catchup,
    "devserver": rows_devserver,
    "faq": rows_faq,
    "desk": rows_stdout(r"^(\S.*?)\s{2,}([\d.,]+ ms)$"),
    "console": rows_console,
    "eval_faq": rows_eval_faq,
    "replay_routes": rows_replay,
}


def cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def report(all_: dict[str, Any]) -> str:
    m = all_["machine"]
    lines = [
        "# Performance",
        "",
        "Generated by `benchmarks/run_all.py` — do not edit by hand; re-run it instead:",
        "",
        "```sh",
        all_["command"],
        "```",
        "",
        f"Run {all_['started']} → {all_['finished']} ({'quick sizes' if all_['quick'] else 'full sizes'}).",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {m['cpu_model']} |",
        f"| cores | {m['cores']} |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| OS | {m['os']} |",
        f"| Python / Node | {m['python']} / {m['node'] or 'not installed'} |",
        f"| git commit | {m['git_commit']} |",
        f"| load average (1/5/15 min) at start / end | {all_['load_start']} / {all_['load_end']} |",
        "",
        "The machine is shared (2 cores, other engineers building and testing at the same time): absolute",
        "figures are indicative; ratios measured side by side in one run are the meaningful comparison. Each",
        "benchmark's own load average before/after is listed under its table.",
        "",
    ]
    for r in all_["benchmarks"]:
        lines += [f"## {r['name']}", "", r["what"] + ".", "", "```sh", r["command"], "```", ""]
        rows: list[Row] = []
        problem = ""
        if r.get("exit_code") != 0:
            problem = r.get("error") or f"exit code {r.get('exit_code')}"
        try:
            rows = ROWS[r["name"]](r) if not problem else []
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
            problem = f"could not read its results ({type(exc).__name__}: {exc})"
        if rows:
            lines += ["| figure | value | target | ratio vs baseline |", "|---|---|---|---|"]
            lines += [f"| {cell(a)} | {cell(b)} | {cell(c)} | {cell(d)} |" for a, b, c, d in rows]
        if problem:
            lines += [f"**Not measured: {problem}.**", ""]
            tail = (r.get("stderr_tail") or "").strip().splitlines()[-8:]
            if tail:
                lines += ["```", *tail, "```"]
        lines += [
            "",
            f"{r['seconds']} s; load average before {r['load_before']}, after {r['load_after']}.",
            "",
        ]
    for name, reason in all_.get("not_measured", {}).items():
        lines += [f"## {name}", "", f"Not measured yet: {reason}", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--only", nargs="*", default=[], help="run only these benchmarks")
    ap.add_argument("--skip", nargs="*", default=[], help="skip these benchmarks")
    ap.add_argument("--report-only", action="store_true", help="rewrite docs/performance.md from all.json")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.report_only:
        saved = json.loads((RESULTS / "all.json").read_text())
        REPORT.write_text(report(saved), "utf-8")
        return
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    all_: dict[str, Any] = {
        "command": f"{PY} benchmarks/run_all.py {argv}".strip(),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_start": load(),
        "benchmarks": [],
        "not_measured": {},
    }
    for b in BENCHES:
        if (args.only and b.name not in args.only) or b.name in args.skip:
            continue
        if not (BENCH / b.script).exists():
            all_["not_measured"][b.name] = f"benchmarks/{b.script} does not exist yet."
            continue
        all_["benchmarks"].append(run_one(b, args.quick))
        (RESULTS / "all.json").write_text(json.dumps(all_, indent=2, ensure_ascii=False) + "\n", "utf-8")
    all_["load_end"] = load()
    all_["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (RESULTS / "all.json").write_text(json.dumps(all_, indent=2, ensure_ascii=False) + "\n", "utf-8")
    REPORT.write_text(report(all_), "utf-8")
    print(f"run_all: wrote {os.path.relpath(RESULTS / 'all.json', ROOT)} and {os.path.relpath(REPORT, ROOT)}")
    failed = [r["name"] for r in all_["benchmarks"] if r.get("exit_code") != 0]
    if failed:
        print(f"run_all: failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
