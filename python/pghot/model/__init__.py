"""Pure-Python specifications of the stores, written for clarity, not speed.

``reference.ReferenceTracker`` specifies the hash and kernel-v2 stores
(``SEMANTICS.md`` section 4); ``pfnarray.PfnArrayReference`` the pfn-array
store (section 3).  The property, state-machine and fuzz tests run the
compiled stores against them.
"""
