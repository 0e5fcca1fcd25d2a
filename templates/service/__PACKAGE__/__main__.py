"""__SERVICE__'s commands: `python -m __PACKAGE__ migrate|worker|run JOB` (flotilla.cli)."""

import sys

from flotilla import cli
from __PACKAGE__ import MIGRATIONS, create_app
from __PACKAGE__.jobs import JOBS

sys.exit(cli.main(create_app, migrations=MIGRATIONS, jobs=JOBS))
