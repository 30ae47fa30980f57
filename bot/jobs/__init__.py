"""Scheduled jobs: APScheduler 3.x with its job store in the bot's database.

Jobs are module-level functions taking ids only (APScheduler pickles references to them); they
reach the engine of this process through `bind`.
"""
