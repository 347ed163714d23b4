"""target-intercom: a Singer target that loads users, companies and events into Intercom."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("target-intercom")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
