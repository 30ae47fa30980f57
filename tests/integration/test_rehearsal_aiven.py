"""`make run`'s rehearsal offers the Aiven path too: `target=aiven-target via=aiven-mm2` reach
the Aiven API stand-in (its flows become MM2 connectors on the sandbox), driven from the page's
signed endpoint like any command; the stand-in's token stays out of the page and the config."""

from __future__ import annotations

import os

from standins.run import AIVEN_TOKEN_ENV, Rehearsal

from tests.waits import wait_for


def test_the_rehearsal_plans_a_migration_through_the_aiven_stand_in(sandbox, unique):
    rehearsal = Rehearsal(sandbox, prefix=f"av{unique}", demo_clients=False).start()
    try:
        config = (sandbox.dir / f"rehearsal-av{unique}.toml").read_text()
        assert 'kind = "aiven"' in config and f'token_env = "{AIVEN_TOKEN_ENV}"' in config
        token = os.environ[AIVEN_TOKEN_ENV]
        assert token not in config
        line = (
            f"/kafka-migrate plan demo source=sandbox-source target=aiven-target "
            f"topics=av{unique}\\..* via=aiven-mm2"
        )
        assert rehearsal.page.send({"type": "command", "user": "U0ALICE", "text": line}) == {
            "ok": True
        }

        def planned():
            texts = [r.get("text") or "" for r in rehearsal.standin.responses]
            return next((t for t in texts if "*Plan*" in t or "plan failed" in t), None)

        answer = wait_for(planned, 60, "the plan's answer")
        assert "*Plan*" in answer and f"av{unique}.created" in answer, answer
        # the bot asked the Aiven stand-in (the project and the MM2 service), with its token
        assert any(
            r.path.endswith(f"/project/{rehearsal.aiven.project}") for r in rehearsal.aiven.requests
        )
        assert token not in str(rehearsal.page.state("U0ALICE"))
    finally:
        rehearsal.stop()
        rehearsal.demo.connectors.remove()
