"""The shared argument grammar of `/kafka-migrate start` and `kafka-migrate start`."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.migration.grammar import parse_start, tokens


def start(text: str):
    return parse_start(tokens(text)[1:])


def test_full_example_from_the_design():
    req = start(
        "start orders source=onprem target=aiven topics='customer\\..*' "
        "exclude='.*\\.test' via=aiven-mm2 replication_policy=identity"
    )
    assert (req.name, req.source, req.target, req.via, req.replication_policy) == (
        "orders",
        "onprem",
        "aiven",
        "aiven-mm2",
        "identity",
    )
    assert req.topics == "customer\\..*" and req.exclude == ".*\\.test"
    assert req.options["fence"] is False


def test_backslashes_survive_without_quotes_and_slack_curly_quotes_work():
    assert start("start a source=x target=y topics=orders\\..* via=r").topics == "orders\\..*"
    req = start(
        "start a source=x target=y topics=\u2018a b\u2019 via=r fence=yes "
        "fence_allow=User:ops,User:cron principals=User:svc=User:new"
    )
    assert req.topics == "a b" and req.options["fence"] is True
    assert req.options["fence_allow"] == ["User:ops", "User:cron"]
    assert req.options["principals"] == "User:svc=User:new"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("start", "give the migration a NAME"),
        ("start source=x", "give the migration a NAME"),
        ("start Orders! source=x", "must be lowercase"),
        ("start a source=x target=y topics=t", "missing via="),
        ("start a source=x target=y topics=t via=r colour=blue", "unknown argument 'colour'"),
        ("start a source=x source=z target=y topics=t via=r", "source is given twice"),
        ("start a source=x target=x topics=t via=r", "source and target are the same"),
        (
            "start a source=x target=y topics=t via=r replication_policy=prefix",
            "must be identity or default",
        ),
        ("start a source=x target=y topics=t via=r fence=maybe", "say yes or no"),
        ("start a source=x target=y topics=t via=r oops", "is not key=value"),
    ],
)
def test_bad_arguments_name_the_problem_and_show_usage(text, problem):
    with pytest.raises(UserError) as caught:
        start(text)
    assert problem in str(caught.value)


def test_unbalanced_quotes():
    with pytest.raises(UserError, match="check the quotes"):
        tokens("start a topics='orders")


def test_groups_can_be_left_out_with_a_reason_and_patterns_in_javas_dialect():
    req = start(
        "start orders source=a target=b topics=t via=m groups_exclude='analytics,old-.*' "
        "groups_exclude_reason='retired last quarter'"
    )
    assert req.options["groups_exclude"] == "analytics,old-.*"
    assert req.options["groups_exclude_reason"] == "retired last quarter"
    with pytest.raises(UserError, match="groups_exclude needs groups_exclude_reason"):
        start("start orders source=a target=b topics=t via=m groups_exclude=analytics")
    from bot.kafka.select import excluded_groups

    groups = ["analytics", "analytics-2", "billing", "old-1"]
    assert excluded_groups(groups, "analytics,old-.*") == ["analytics", "old-1"]
    with pytest.raises(UserError, match="unknown inline modifier"):
        excluded_groups(groups, "(?P<x>a)")


BASE = "start a source=x target=y topics=t via=r"


def test_a_reverse_flow_soaks_24h_unless_told():
    options = start(f"{BASE} reverse_via=back").options
    assert (options["reverse_via"], options["soak"]) == ("back", 86400)
    for given, seconds in (("90s", 90), ("30m", 1800), ("2h", 7200), ("2d", 172800), ("45", 45)):
        assert start(f"{BASE} reverse_via=back soak={given}").options["soak"] == seconds
    assert start(BASE).options["reverse_via"] is None and start(BASE).options["soak"] is None


@pytest.mark.parametrize(
    ("extra", "problem", "field"),
    [
        ("soak=1h", "soak= needs reverse_via=", "soak"),
        ("reverse_via=r", "reverse_via names the forward replicator", "reverse_via"),
        (
            "reverse_via=back replication_policy=default",
            "reverse_via needs replication_policy=identity",
            "reverse_via",
        ),
        (
            "reverse_via=back connect_from=a connect_to=b",
            "moved connectors have no way back yet",
            "reverse_via",
        ),
        ("reverse_via=back soak=0", "must be a duration such as 30m", "soak"),
        ("reverse_via=back soak=1w", "must be a duration such as 30m", "soak"),
        ("reverse_via=back soak=91d", "1 second to 90 days", "soak"),
    ],
)
def test_reverse_flow_arguments_are_checked(extra, problem, field):
    with pytest.raises(UserError) as caught:
        start(f"{BASE} {extra}")
    assert problem in str(caught.value) and caught.value.field == field
