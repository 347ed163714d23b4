"""The one line for a sync_store_url whose database driver is not installed.

The PostgreSQL driver comes with target-intercom's `postgres` extra, which a plain install
(and so a Meltano loader installed from a bare path or URL) leaves out; Python's own
"No module named 'psycopg'" says nothing of that, nor of where a Meltano user sets the
extra. The URL is named with its password hidden.
"""

from __future__ import annotations

# The driver SQLAlchemy imports for `postgresql+psycopg://`, and the one it picks for a
# bare `postgresql://`, which the extra does not install.
_EXTRA_DRIVER = "psycopg"
_DEFAULT_POSTGRES_DRIVER = "psycopg2"


def missing_driver(where: str, error: ImportError) -> str:
    """Which driver is missing, and how to install it, under Meltano and without."""
    module = (error.name or "").partition(".")[0] or str(error)
    if module == _DEFAULT_POSTGRES_DRIVER:
        return (
            f"the sync store {where} names the psycopg2 driver (postgresql://...), which "
            "target-intercom does not install: write the URL as postgresql+psycopg://... "
            "and install target-intercom with its postgres extra"
        )
    if module != _EXTRA_DRIVER:
        return (
            f"the sync store {where} needs the Python module {module!r}, which is not "
            "installed beside target-intercom"
        )
    return (
        f"the sync store {where} needs the PostgreSQL driver psycopg, which comes with "
        "target-intercom's postgres extra: under Meltano, end the loader's pip URL with "
        "[postgres] (INTERCOM_LOADER_PIP_URL in meltano.yml, e.g. /path/to/target-intercom"
        "[postgres]) and run `meltano install --clean loader target-intercom`; elsewhere, "
        "pip install 'target-intercom[postgres]'"
    )
