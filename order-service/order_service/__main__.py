"""order-service's commands: `python -m order_service migrate|worker|run JOB` (flotilla.cli)."""

import sys

from flotilla import cli
from order_service import MIGRATIONS, create_app
from order_service.jobs import JOBS

sys.exit(cli.main(create_app, migrations=MIGRATIONS, jobs=JOBS))
