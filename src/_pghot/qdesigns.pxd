# The queue designs behind the queue_ops interface (pqueue.pxd), in the order
# of their names in QUEUE_NAMES: 0 the kernel's binary heap, 1 a 4-ary heap,
# 2 the bucket queue.  Shared by the tracker and the stand-alone queues.
from pqueue cimport queue_ops
from dheap cimport (dheap_create, dheap_destroy, dheap_peek, dheap_relocate,
                    dheap_size, dheap_nbytes, dheap_entry, dheap_walk,
                    binheap_push, binheap_update, binheap_remove, binheap_pop,
                    binheap_check, quadheap_push, quadheap_update,
                    quadheap_remove, quadheap_pop, quadheap_check)
from bucketq cimport (bucketq_create, bucketq_destroy, bucketq_push,
                      bucketq_update, bucketq_remove, bucketq_peek, bucketq_pop,
                      bucketq_relocate, bucketq_size, bucketq_nbytes,
                      bucketq_entry, bucketq_check, bucketq_walk)

cdef enum:
    NQUEUE_DESIGNS = 3


cdef inline void _heap_common(queue_ops *o) noexcept:
    o.create = dheap_create
    o.destroy = dheap_destroy
    o.peek = dheap_peek
    o.relocate = dheap_relocate
    o.size = dheap_size
    o.nbytes = dheap_nbytes
    o.entry = dheap_entry
    o.walk = dheap_walk


# Fill ops[0 .. NQUEUE_DESIGNS).
cdef inline void queue_designs(queue_ops *ops) noexcept:
    _heap_common(&ops[0])
    ops[0].name = b"binary"
    ops[0].push = binheap_push
    ops[0].update = binheap_update
    ops[0].remove = binheap_remove
    ops[0].pop = binheap_pop
    ops[0].check = binheap_check
    _heap_common(&ops[1])
    ops[1].name = b"quaternary"
    ops[1].push = quadheap_push
    ops[1].update = quadheap_update
    ops[1].remove = quadheap_remove
    ops[1].pop = quadheap_pop
    ops[1].check = quadheap_check
    ops[2].name = b"bucket"
    ops[2].create = bucketq_create
    ops[2].destroy = bucketq_destroy
    ops[2].push = bucketq_push
    ops[2].update = bucketq_update
    ops[2].remove = bucketq_remove
    ops[2].peek = bucketq_peek
    ops[2].pop = bucketq_pop
    ops[2].relocate = bucketq_relocate
    ops[2].size = bucketq_size
    ops[2].nbytes = bucketq_nbytes
    ops[2].entry = bucketq_entry
    ops[2].check = bucketq_check
    ops[2].walk = bucketq_walk
