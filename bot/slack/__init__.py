"""Slack: Block Kit rendering, the notifier (port implementation), the Web API stand-in."""
