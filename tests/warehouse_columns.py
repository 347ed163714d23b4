"""The columns every row of Segment's and RudderStack's warehouse tables of calls carries
(identifies, groups, tracks, one table per event), as their docs list them: the call's
message id and its times."""

from __future__ import annotations

from tests.conftest import DATETIME, STR

CALL_COLUMNS = {
    "id": STR,
    "received_at": DATETIME,
    "sent_at": DATETIME,
    "timestamp": DATETIME,
    "original_timestamp": DATETIME,
    "uuid_ts": DATETIME,
}
