"""Who is in which approver user group (usergroups.users.list), asked at click time.

A short cache keeps a burst of clicks from asking Slack again; membership changes are seen
within `ttl` seconds.
"""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


class Directory:
    def __init__(self, client: WebClient, groups: list[str], ttl: float = 30.0):
        self.client = client
        self.groups = [g for g in groups if g.startswith("S")]
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._cache.get(group)
            if cached and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group)["users"])
        except SlackApiError:
            users = frozenset()  # an unknown group grants nothing
        with self._lock:
            self._cache[group] = (time.monotonic(), users)
        return users

    def groups_of(self, user: str) -> frozenset[str]:
        return frozenset(g for g in self.groups if user in self.members(g))
