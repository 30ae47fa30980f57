"""Schema registry migration: the registry client, the plan, and id parity."""
