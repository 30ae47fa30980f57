"""Topic selection: MM2's comma-separated Java regexes, full match, internal topics left out."""

from __future__ import annotations

import pytest

from bot.errors import UserError, shown
from bot.kafka.javaregex import RegexError, compile_java
from bot.kafka.naming import TopicNaming
from bot.kafka.select import TopicSelection, is_internal, split_list

TOPICS = [
    "orders.eu",
    "orders.us",
    "orders.eu.test",
    "payments",
    "customer.profile",
    "customerXprofile",
    "__consumer_offsets",
    "__transaction_state",
    "_schemas",
    "heartbeats",
    "source.heartbeats",
    "mm2-offset-syncs.target.internal",
    "source.checkpoints.internal",
    "connect-offsets",
    "mm2-offsets.source.internal",
]


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("*\\..europe\\..*", "nothing to repeat at position 0"),
        ("(?P<n>x)", "unknown inline modifier '(?P' (Java refuses it)"),
        ("(?#c)x", "unknown inline modifier '(?#'"),
        ("(" * 3000 + "x" + ")" * 3000, "(6,001 characters): nesting too deep"),
        ("orders.*(", "missing ), unterminated subpattern"),
        ("x**", "multiple repeat"),
        ("topic{abc}", "is not a repetition"),
        ("a{,3}", "is not a repetition"),
        ("[a-z&&[^e]]", "intersection in Java"),
        ("[[a-c]x]", "nested class (union) in Java"),
        ("\\p{Alpha}+", "Java-only"),
        ("a\\vb", "Java-only"),
        ("(?x)orders", "inline flag(s) x differ"),
        ("(?-i)orders", "Java-only"),
        ("\\012", "octal"),
        ("orders\\", "lone backslash"),
        ("[abc", "unterminated character class"),
        ("a{3,1}", "max below min"),
    ],
)
def test_invalid_or_ambiguous_patterns_are_refused_with_the_pattern_quoted(pattern, problem):
    with pytest.raises(RegexError) as caught:
        compile_java(pattern)
    assert shown(pattern) in str(caught.value)  # quoted; clipped when long
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("orders\\..*", ["orders.eu", "orders.eu.test"], ["orders", "xorders.eu"]),
        ("\\Qorders.eu\\E", ["orders.eu"], ["ordersXeu"]),
        ("(?i)PAYMENTS", ["payments"], ["payments2"]),
        ("(?<region>eu|us)-orders", ["eu-orders"], ["apac-orders"]),
        ("a{2}b", ["aab"], ["ab"]),
        ("[]a]+", ["]a]"], ["b"]),
        ("\\w+\\z", ["abc"], ["é"]),  # Java's \w is ASCII
        ("orders.(?>eu|us)", ["orders.eu"], ["orders.apac"]),
    ],
)
def test_valid_patterns_full_match_like_java(pattern, matches, misses):
    rx = compile_java(pattern)
    assert all(rx.fullmatch(t) for t in matches)
    assert not any(rx.fullmatch(t) for t in misses)


def test_lists_split_on_commas_and_trim():
    assert split_list(" orders\\..* , payments ,", "topics") == ["orders\\..*", "payments"]
    with pytest.raises(UserError, match="comma inside"):
        split_list("orders{1,3}", "topics")


def test_selection_full_match_allow_then_deny_and_internal_left_out():
    selection = TopicSelection("orders\\..*,payments,customer\\.profile,.*", "orders\\..*\\.test")
    preview = selection.preview(TOPICS)
    assert preview.selected == [
        "customer.profile",
        "customerXprofile",
        "orders.eu",
        "orders.us",
        "payments",
    ]
    assert preview.excluded == ["orders.eu.test"]
    assert "__consumer_offsets" in preview.internal and "heartbeats" in preview.internal
    assert "mm2-offset-syncs.target.internal" in preview.internal
    assert "connect-offsets" in preview.internal


def test_internal_topics_only_when_named_literally():
    selection = TopicSelection("_schemas,orders\\..*")
    assert selection.resolve(TOPICS) == ["_schemas", "orders.eu", "orders.eu.test", "orders.us"]
    assert not TopicSelection("_.*").matches("_schemas")


def test_unmatched_literal_and_empty_selection_are_errors():
    with pytest.raises(UserError, match="no topic named 'orderz'"):
        TopicSelection("orders\\..*,orderz").resolve(TOPICS)
    with pytest.raises(UserError, match="selects no topic"):
        TopicSelection("nothing\\..*").resolve(TOPICS)
    with pytest.raises(UserError, match="at least one"):
        TopicSelection(" , ")


def test_invalid_item_in_a_list_is_named():
    with pytest.raises(RegexError, match=r"invalid regex '\*\\\\\.\.europe\\\\\.\.\*'"):
        TopicSelection("orders\\..*, *\\..europe\\..*")


def test_internal_flags_and_remote_names():
    assert is_internal("__consumer_offsets") and is_internal("source.checkpoints.internal")
    assert not is_internal("orders.eu")
    assert TopicNaming("identity", "onprem").target_name("orders") == "orders"
    assert TopicNaming("default", "onprem").target_name("orders") == "onprem.orders"
    with pytest.raises(UserError, match="not one of identity, default"):
        TopicNaming("prefix", "onprem").target_name("orders")
