"""Local stand-ins of the services a rehearsal needs and this machine cannot run: the Slack Web
API (slack_api), Slack's Socket Mode link (socket_mode), a schema registry (registry) and the
Aiven API (aiven_api, checked against Aiven's OpenAPI document by aiven_openapi, its MM2 flows
run on the sandbox by aiven_kafka). They answer as the real services do, including their
refusals (Block Kit limits: blockkit), so the bot can be rehearsed (`make run`) and tested end
to end without a Slack workspace or an Aiven account."""
