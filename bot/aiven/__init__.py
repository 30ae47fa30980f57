"""Aiven for Apache Kafka through the Aiven API (aiven-client): the API client (api.py), a
cluster that is an Aiven service and how to connect to it (service.py), and the ACLs of such a
cluster (acls.py). Replication through Aiven's MirrorMaker 2 service is a replicator
(bot.replicators.aiven) that uses the same API client."""
