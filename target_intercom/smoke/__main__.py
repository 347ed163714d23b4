"""`python -m target_intercom.smoke`."""

import sys

from target_intercom.smoke.cli import main

sys.exit(main())
