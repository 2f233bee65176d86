"""`python -m station.cli`."""

import sys

from . import main

sys.exit(main())
