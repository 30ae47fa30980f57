"""Secrets are referenced by environment-variable name and read only when used.

Nothing here keeps a secret value on an object that could be printed: `SecretRef` holds the
variable's name, and `ClientConfig` (the dict handed to client libraries) masks secret keys in
its repr and str.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

MASK = "***"
SECRET_KEYS = frozenset(
    {"sasl.password", "ssl.key.password", "ssl.key.pem", "basic.auth.user.info", "password"}
)


@dataclass(frozen=True)
class SecretRef:
    """A secret named by the environment variable that holds it."""

    env: str
    _extra: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def is_set(self) -> bool:
        return bool(os.environ.get(self.env) or self._extra.get(self.env))

    def reveal(self) -> str:
        value = os.environ.get(self.env) or self._extra.get(self.env)
        if not value:
            raise KeyError(self.env)
        return value

    def __repr__(self) -> str:
        return f"SecretRef(env={self.env!r})"


class ClientConfig(dict):
    """A client configuration dict whose printed form never shows secret values."""

    def __repr__(self) -> str:
        return repr({k: (MASK if k in SECRET_KEYS else v) for k, v in self.items()})

    __str__ = __repr__
