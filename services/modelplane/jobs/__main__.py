"""``python -m modelplane.jobs ingest|train|validate-model`` (see :mod:`modelplane.jobs.cli`)."""

import sys

from modelplane.jobs.cli import main

sys.exit(main())
