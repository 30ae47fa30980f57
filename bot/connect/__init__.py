"""Kafka Connect clusters whose own connectors move with a migration (not MM2's: those are the
replicator's): the REST client, the plan of what moves and how, and the moves themselves."""
