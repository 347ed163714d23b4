"""Delivering records concurrently while keeping STATE a watermark.

`core` decides (which record may start, which STATE may go out), `pool` runs the
threads, `failures` holds the record-error policy, `progress` the progress line.
"""

from target_intercom.delivery.failures import Failure
from target_intercom.delivery.pool import Delivery
from target_intercom.delivery.progress import Progress

__all__ = ["Delivery", "Failure", "Progress"]
