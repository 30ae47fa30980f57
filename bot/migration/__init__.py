"""The domain: the migration runbook as a persistent, verified, approved state machine."""
