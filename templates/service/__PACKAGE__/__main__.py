"""__SERVICE__'s commands (flotilla.cli): migrate, worker, run JOB."""

import sys

from flotilla import cli
from __PACKAGE__ import MIGRATIONS, create_app
from __PACKAGE__.jobs import JOBS

sys.exit(cli.main(create_app, migrations=MIGRATIONS, jobs=JOBS))
