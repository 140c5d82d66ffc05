"""`agentdesk faq ...` through `agentdesk.commands.faq.main` (real cache files), plus one real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentdesk.commands.faq import main


def test_import_search_stats(tmp_path: Path, faq_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["import", str(faq_file), "--db", db]) == 0
    out, err = capsys.readouterr()
    assert "added 160, updated 0, unchanged 0, rejected 0" in out
    assert "importing: 160 rows" in err  # the final count line (stderr is not a TTY here)

    assert main(["import", str(faq_file), "--db", db]) == 0
    assert "added 0, updated 0, unchanged 160" in capsys.readouterr().out

    assert main(["search", "运费", "--db", db, "--json", "--limit", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"] == "faq-016" and len(hits) <= 3
    assert set(hits[0]) == {"id", "score", "question", "answer", "lang", "snippet"}
    assert hits[0]["lang"] == "zh" and 0 <= hits[0]["score"] <= 1
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    assert main(["search", "shipping fee", "--db", db, "--json", "--lang", "en"]) == 0
    en = json.loads(capsys.readouterr().out)
    assert en[0]["lang"] == "en" and en[0]["question"].isascii()

    assert main(["search", "今天股市怎么样", "--db", db, "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == []

    assert main(["search", "invoce", "--db", db]) in (0, 1)
    assert "did you mean: invoice" in capsys.readouterr().out

    assert main(["stats", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "entries: 160" in out and "shipping: 19" in out


def test_rejected_rows_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "f.jsonl"
    src.write_text('{"id": "a-1", "question_en": "Q?", "answer_en": "A."}\n{broken\n', encoding="utf-8")
    assert main(["import", str(src), "--db", str(tmp_path / "c.sqlite")]) == 1
    out = capsys.readouterr().out
    assert "added 1, updated 0, unchanged 0, rejected 1" in out
    assert "line 2: invalid JSON" in out


def test_unusable_inputs_give_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["import", str(tmp_path / "missing.jsonl"), "--db", db]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["sync", "http://127.0.0.1:9/faq.jsonl", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sync failed") and "Traceback" not in err


def test_corrupt_cache_is_reported_and_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "c.sqlite"
    db.write_bytes(b"\x00garbage" * 500)
    assert main(["stats", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert "unreadable" in err and "moved to" in err and "Traceback" not in err
    assert "entries: 0" in out
    assert list(tmp_path.glob("c.sqlite.corrupt-*"))


def test_console_script_with_default_data_dir(tmp_path: Path, faq_file: Path) -> None:
    exe = Path(sys.executable).with_name("agentdesk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "agentdesk.cli"]
    env = {**os.environ, "AGENTDESK_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [*cmd, "faq", "import", str(faq_file)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "faq.sqlite").exists()
    found = subprocess.run(
        [*cmd, "faq", "search", "发票怎么开", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["id"].startswith("faq-14")
