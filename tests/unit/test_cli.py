"""The CLI's text and JSON presenters and its flags, on a stored migration (no Kafka)."""

from __future__ import annotations

import json

import pytest

from bot import cli
from bot.db import open_database
from bot.dbmigrations import init_db
from bot.migration.steps import Step
from bot.migration.store import Store
from tests.support import CONFIG, migration


@pytest.fixture
def stored(tmp_path, monkeypatch):
    (tmp_path / "km.toml").write_text(CONFIG)
    url = f"sqlite:///{tmp_path / 'km.db'}"
    monkeypatch.setenv("KAFKA_MIGRATE_CONFIG", str(tmp_path / "km.toml"))
    monkeypatch.setenv("DATABASE_URL", url)
    db = open_database(url)
    init_db(db)
    store = Store(db)
    m = store.create(migration(), "U0ALICE")
    m.step = Step.CATCH_UP
    m.state = {
        "replication": "km-orders-abc",
        "schemas": {
            "subjects": ["orders-value"],
            "imported": True,
            "skipped": [],
            "parity": [],
            "summary": {},
        },
    }
    store.save(m, 1, actor="bot", kind="step_done", message="replication started")
    store.add_lag(m.id, 1234, None, None)
    return m.id


@pytest.mark.parametrize(
    "argv",
    [["--json", "status", "{id}"], ["status", "{id}", "--json"], ["status", "--json", "{id}"]],
)
def test_json_works_anywhere_on_the_line(stored, capsys, argv):
    assert cli.main([a.format(id=stored) for a in argv]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == stored and data["step"] == "catch_up" and data["version"] == 2


def test_status_and_report_in_text(stored, capsys):
    assert cli.main(["status", stored]) == 0
    text = capsys.readouterr().out
    assert stored in text and "catch_up" in text and "1,234" in text
    assert cli.main(["report", stored]) == 0
    report = capsys.readouterr().out
    assert "schemas (ids preserved): orders-value" in report and "timeline:" in report


def test_cancel_says_what_it_would_undo_and_bad_options_change_nothing(stored, capsys):
    assert cli.main(["cancel", stored]) == 2
    said = capsys.readouterr().err
    assert "delete the MirrorMaker 2 connectors" in said and "Nothing was done: add --yes" in said
    assert cli.main(["cancel", stored, "cleanup=everything", "--yes"]) == 2
    assert "the only cleanup is target" in capsys.readouterr().err
    assert cli.main(["--json", "status", stored]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "active"


def test_a_start_argument_list_may_end_with_json(stored, capsys):
    code = cli.main(["plan", "o", "source=src", "target=dst", "topics=orders", "via=mm2", "--json"])
    assert code == 2  # the clusters of this config do not answer: said, not a usage error
    err = capsys.readouterr().err
    assert "--json" not in err and "the source cluster src: cannot reach" in err
