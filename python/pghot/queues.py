"""Stand-alone indexed priority queues: the tracker's three queue designs.

``BinaryHeap`` (the kernel's), ``QuaternaryHeap`` and ``BucketQueue`` share
one API: ``push(key) -> handle``, ``update(handle, key)``, ``remove(handle)``,
``peek() -> (handle, key) | None``, ``pop() -> (handle, key)``, ``len``,
``check()``; max- or min-order.

>>> from pghot.queues import BucketQueue
>>> q = BucketQueue(4, max_key=7)
>>> h = q.push(5)
>>> q.peek() == (h, 5)
True
"""

from pghot._queues import BinaryHeap, BucketQueue, QuaternaryHeap

__all__ = ["BinaryHeap", "QuaternaryHeap", "BucketQueue", "QUEUE_CLASSES"]

#: Tracker ``queue=`` names and their stand-alone classes.
QUEUE_CLASSES = {"binary": BinaryHeap, "quaternary": QuaternaryHeap, "bucket": BucketQueue}
