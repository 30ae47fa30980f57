"""Scheduled jobs: APScheduler 3.x with its jobs in memory (MemoryJobStore): the leader
rebuilds them from the stored migrations (`reconcile`), so nothing of the scheduler is stored.

Jobs are module-level functions taking ids only (what APScheduler asks of jobs, so that a
persistent job store could pickle their references); they reach the engine of this process
through `bind`.
"""
