"""__SERVICE__'s periodic jobs, run by its worker (`python -m __PACKAGE__ worker`), if it
gets one: a `__NAME__-worker` in the Compose files, as order-worker is to order-service."""

from flotilla.worker import Job

JOBS: list[Job] = []
