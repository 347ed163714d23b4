"""A fake Intercom: a real HTTP server on 127.0.0.1 holding an in-memory workspace.

The project's tests, benchmark and offline demo run the target against it. It follows
Intercom's REST API 2.16 as the official OpenAPI description and
Intercom's documentation describe it (409 conflicts, search lag, custom attribute and
event rules, rate limits), validates request bodies against the description, and
injects faults on demand.
"""

from fake_intercom.faults import FAULT_KINDS, Faults
from fake_intercom.gate import Gate
from fake_intercom.server import Call, FakeIntercom

__all__ = ["FAULT_KINDS", "Call", "FakeIntercom", "Faults", "Gate"]
