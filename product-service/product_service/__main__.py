"""product-service's commands: `python -m product_service migrate` (flotilla.cli).

Its demo catalog: `python -m product_service.seed`.
"""

import sys

from flotilla import cli
from product_service import MIGRATIONS, create_app

sys.exit(cli.main(create_app, migrations=MIGRATIONS))
