"""`python -m cockpit`: the same entry point as the `cockpit` command."""

import sys

from cockpit.cli import main

sys.exit(main())
