"""user-service's commands: `python -m user_service migrate|worker|run JOB` (flotilla.cli)."""

import sys

from flotilla import cli, relay
from user_service import MIGRATIONS, create_app
from user_service.admin import ensure_admin

# user-worker publishes user.registered from the outbox; the API never touches RabbitMQ.
sys.exit(cli.main(create_app, migrations=MIGRATIONS, startup=[ensure_admin], jobs=relay.JOBS))
