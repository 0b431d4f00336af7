"""``python -m autovla_bringup``: the same as the ``autovla_bringup`` command."""

import sys

from autovla_bringup.cli import main

sys.exit(main())
