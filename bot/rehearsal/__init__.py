"""Local stand-ins of the services a rehearsal needs and this machine cannot run: the Slack Web
API (slack_api), Slack's Socket Mode link (socket_mode) and a schema registry (registry). They
answer as the real services do, including their refusals (Block Kit limits: blockkit), so the
bot can be rehearsed (`make run`) and tested end to end without a Slack workspace."""
