"""Reading back what was just created: retried while it is not visible, then a real error."""

from __future__ import annotations

import pytest

from bot.kafka.cluster import KafkaOpError, NotYet, eventually


def test_a_read_is_retried_until_the_created_thing_is_visible():
    attempts = []

    def read():
        attempts.append(1)
        if len(attempts) < 3:
            raise NotYet("not there yet")
        if len(attempts) == 3:
            raise KafkaOpError("describe configs failed for t: UNKNOWN_TOPIC_OR_PART: unknown")
        return "seen"

    assert eventually(read, timeout=5) == "seen" and len(attempts) == 4


def test_a_lasting_difference_fails_and_other_errors_fail_at_once():
    with pytest.raises(KafkaOpError, match="still missing"):
        eventually(lambda: (_ for _ in ()).throw(NotYet("still missing")), timeout=0.3)
    calls = []

    def broken():
        calls.append(1)
        raise KafkaOpError("create ACLs failed: CLUSTER_AUTHORIZATION_FAILED")

    with pytest.raises(KafkaOpError, match="CLUSTER_AUTHORIZATION_FAILED"):
        eventually(broken, timeout=5)
    assert calls == [1]
