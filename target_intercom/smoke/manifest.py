"""What a smoke run made in the workspace, on disk before the run's next call.

Each object is written down as intended (with the prefixed key it will carry) before the
call that creates it, and again with Intercom's id as soon as the answer names it, so a
run killed at any point leaves a file from which `--cleanup` finds everything it made,
and nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

# An entry's states still to clean up: made, or maybe made. The others say why an entry
# is done with: "deleted", "gone" (already), "merged" (into a contact the run made),
# "refused" (its create made nothing), "never_made" (not found long after it was intended).
PENDING = ("intended", "created")


class InjectedCrash(RuntimeError):
    """Raised by `--fail-after-creates`: how the tests stand for a run killed mid-way."""


class Manifest:
    """The run's prefix, where it ran, and one entry per contact or company it made."""

    def __init__(self, path: Path, data: dict[str, Any], fail_after: int | None = None) -> None:
        self.path = path
        self.data = data
        self._fail_after = fail_after

    @classmethod
    def new(cls, path: Path, prefix: str, base_url: str, workspace: str, **kw: Any) -> Manifest:
        """A fresh manifest, written at once: a run that dies before its first create
        still leaves the file `--cleanup` expects."""
        data = {"prefix": prefix, "api_base_url": base_url, "workspace_name": workspace}
        manifest = cls(path, {**data, "entries": []}, **kw)
        manifest.save()
        return manifest

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The manifest a run left behind (ValueError if it is not one)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not {"prefix", "api_base_url", "entries"} <= data.keys():
            raise ValueError(f"{path} is not a smoke-test manifest")
        return cls(path, data)

    @property
    def prefix(self) -> str:
        """The run's prefix, carried by every key and email it made."""
        return str(self.data["prefix"])

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Every object the run intended to make, in order."""
        entries: list[dict[str, Any]] = self.data["entries"]
        return entries

    def intend(self, kind: str, **keys: Any) -> dict[str, Any]:
        """Writes down an object about to be made ("contact" or "company", with the
        prefixed keys that find it again), before the call that makes it."""
        for value in keys.values():
            if value is not None and not str(value).startswith(self.prefix):
                raise ValueError(f"{kind} key {value!r} does not carry the run's prefix")
        entry = {"kind": kind, **keys, "id": None, "state": "intended", "at": int(time.time())}
        self.entries.append(entry)
        self.save()
        return entry

    def made(self, entry: dict[str, Any], intercom_id: str) -> None:
        """Records Intercom's id for an entry, before the run's next call."""
        entry["id"] = intercom_id
        entry["state"] = "created"
        self.save()
        made = sum(1 for e in self.entries if e["id"] is not None)
        if self._fail_after is not None and made >= self._fail_after:
            raise InjectedCrash(f"injected crash after {made} objects made (--fail-after-creates)")

    def settle(self, entry: dict[str, Any], state: str) -> None:
        """Records that an entry needs no more clean-up, and why."""
        entry["state"] = state
        self.save()

    def pending(self) -> list[dict[str, Any]]:
        """The entries still to clean up."""
        return [e for e in self.entries if e["state"] in PENDING]

    def save(self) -> None:
        """Replaces the file atomically and flushes it to disk: a crash leaves the old
        manifest or the new one, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".smoke-manifest-")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(self.data, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.path)
