# The package of the compiled modules, for cimport: a .pxd that declares a
# cdef class other modules derive from (_base.pxd: TrackerBase) is found by
# its full module name, pghot._base, so it lives in this directory, which is
# on the include path (-I src/_pghot).  The shared headers of the kernels
# (defs, nodes, dheap, ...) are inline-only and stay beside the .pyx files.
