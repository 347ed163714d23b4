"""Delivering records concurrently while keeping STATE a watermark.

`core` decides which record may start and which STATE may go out, `policy` whether a
released STATE is written and when the run has failed, `pool` runs the threads,
`parking` keeps the records waiting for a contact, `failures` dead-letters records,
`progress` logs the progress line.
"""

from target_intercom.delivery.policy import Failure
from target_intercom.delivery.pool import Delivery
from target_intercom.delivery.progress import Progress

__all__ = ["Delivery", "Failure", "Progress"]
