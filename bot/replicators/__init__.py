"""Replicators run MirrorMaker 2 for a migration: Kafka Connect (here) or Aiven's service."""

from __future__ import annotations

from bot.replicators.base import FlowSpec, Replicator, ReplicatorError, ReplicatorStatus


def from_settings(settings, name: str) -> Replicator:
    """The replicator named `name` in the configuration."""
    from bot.errors import ConfigError

    try:
        conf = settings.config.replicators[name]
    except KeyError:
        known = ", ".join(sorted(settings.config.replicators)) or "none"
        raise ConfigError(
            f"{settings.path}: no replicator named {name!r} (known: {known})"
        ) from None
    if conf.kind == "connect":
        from bot.replicators.connect import ConnectReplicator

        password = settings.secret(conf.password_env).reveal() if conf.password_env else None
        return ConnectReplicator(
            conf.url,
            username=conf.username,
            password=password,
            workers=conf.workers,
            tasks_per_worker=conf.tasks_per_worker,
            tasks_max=conf.tasks_max,
        )
    if conf.kind == "aiven":
        from bot.replicators.aiven import AivenReplicator

        return AivenReplicator(
            settings.aiven_api(conf.api_url, conf.token_env),
            conf.project,
            conf.service,
            create_service=conf.create_service,
            plan=conf.plan,
            cloud=conf.cloud,
            service_wait_s=conf.service_wait_seconds,
        )
    raise ConfigError(
        f"{settings.path}: replicators.{name}: kind {conf.kind!r} is not supported "
        "by this version yet"
    )


__all__ = ["FlowSpec", "Replicator", "ReplicatorError", "ReplicatorStatus", "from_settings"]
