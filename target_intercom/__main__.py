"""`python -m target_intercom`: the same CLI as the `target-intercom` command."""

from target_intercom.target import TargetIntercom

TargetIntercom.cli()
