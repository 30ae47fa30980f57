"""kafka-migrate: a Slack chat-ops bot that runs Apache Kafka migrations with MirrorMaker 2."""

__version__ = "0.1.0"
