"""notification-service's commands: `python -m notification_service migrate|worker|run JOB`
and `dead-letters [--replay]`."""

import sys

from flotilla import cli
from notification_service import MIGRATIONS, create_app
from notification_service.events import CONSUMER
from notification_service.jobs import JOBS, TASKS

# The worker consumes events between its jobs, and alone sends mail.
sys.exit(cli.main(create_app, migrations=MIGRATIONS, jobs=JOBS, tasks=TASKS, consumers=[CONSUMER]))
