"""Who acts from the CLI: the operating-system account the process runs as (its effective uid),
never an environment variable (`USER`, `LOGNAME` are the caller's to set), and on which host.

`cli.approvers` names OS accounts; decisions are recorded as `cli:<account>`, and the
audit trail keeps the account, its uid and the host beside them.
"""

from __future__ import annotations

import os
import pwd
import socket
from typing import Any


def account() -> str:
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers): named by its number
        return f"uid{uid}"


def cli_actor() -> str:
    return f"cli:{account()}"


def cli_origin() -> dict[str, Any]:
    """What the audit trail records about a CLI action besides the actor."""
    return {
        "interface": "cli",
        "account": account(),
        "uid": os.geteuid(),
        "host": socket.gethostname(),
    }
