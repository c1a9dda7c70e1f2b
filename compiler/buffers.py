"""Buffer reuse: liveness over the scheduled program, so a new buffer takes the memory of a dead
one of the same shape and dtype instead of allocating.

A buffer is "owned" when the generated code allocated it: a fused loop's stored result, a
reduction's accumulator, or the result of a primitive declared ``allocates`` (matmul, gathers...).
Views (transpose, slices, reshapes) keep their base buffer alive. A buffer that dies in the very
loop that needs a new one is reused in place when that loop reads it only at the element it
writes (the loop stores its results after all reads of an iteration). A statement whose primitive declares
``in_place`` (``matmul_add``: a GEMM accumulating into c) takes the buffer of that input when it
dies there (``donate``). Inside a scan's body the carries the loop owns count as owned buffers
(``own``), so an accumulator carried from step to step is updated in place.
"""
from __future__ import annotations

import numpy as np

from ..engine.ir import Aval, Node
from ..engine.primitive import get
from .schedule import kind

NEVER = float("inf")


def computed(item) -> list:
    """The nodes one scheduled item computes."""
    what, x = item
    return [x] if what == "stmt" else list(x.members)


class BufferPlan:
    """Liveness of the buffers of a scheduled program, and the reuse decided while emitting it."""

    def __init__(self, items, outputs, stored, dims):
        self.items, self.dims = items, dims
        self.base = {}      # node id -> id of the buffer its array lives in
        self.last_use = {}  # buffer id -> index of the last item that reads it (views included)
        self.owned = {}     # buffer id -> node, for the buffers the generated code allocated
        self.created = {}   # buffer id -> index of the item that made it
        self.reused = {}    # node id -> node whose dead buffer it took
        for k, item in enumerate(items):
            for n in computed(item):
                # a multi-result node is no buffer: its results (fresh arrays) are
                arrays = [i for i in n.inputs if not i.multiple and i.ndim > 0]
                is_view = kind(n) == "call" and not get(n.prim).allocates and arrays and not n.multiple
                self.base[n.id] = self.base.get(arrays[0].id, arrays[0].id) if is_view else n.id
                if not n.multiple and n.ndim > 0 and (
                        n.id in stored or kind(n) == "reduction" or (kind(n) == "call" and not is_view)):
                    self.owned[n.id], self.created[n.id] = n, k
                for i in n.inputs:
                    b = self.base.get(i.id, i.id)
                    self.last_use[b] = max(self.last_use.get(b, -1), k)
        for o in outputs:
            self.last_use[self.base.get(o, o)] = NEVER
        self._free = set()  # buffer ids already handed on

    def claim(self, n: Node, k: int, in_place=()) -> Node | None:
        """A dead buffer of ``n``'s shape and dtype for ``n`` (made by item ``k``), or None.
        ``in_place``: ids of buffers that item ``k`` reads only at the element it writes."""
        want = (self.dims(n), n.dtype)
        for b, node in self.owned.items():
            last = self.last_use.get(b, -1)
            dead = last < k or (last == k and b in in_place)
            if dead and b not in self._free and self.created[b] < k and (self.dims(node), node.dtype) == want:
                self._free.add(b)
                self.reused[n.id] = node
                return node
        return None

    def own(self, inputs) -> None:
        """Treat these inputs' buffers as the code's own (a loop's carries, which the loop copied
        before its first step): they may be reused, in place too, once nothing reads them."""
        for i in inputs:
            self.owned[i.id], self.created[i.id] = i, -1

    def donate(self, n: Node, k: int, c: Node) -> bool:
        """Whether ``n`` (item ``k``, a statement) may write its result into the buffer of its
        input ``c``: the code owns that buffer, ``c`` is no view of it, nothing reads it after
        item ``k`` (nor is it a result) and ``n`` reads it only as ``c``. If so it is ``n``'s now."""
        b = self.base.get(c.id, c.id)
        if b != c.id or b not in self.owned or b in self._free or self.created[b] >= k \
                or self.last_use.get(b, -1) != k or sum(self.base.get(i.id, i.id) == b for i in n.inputs) != 1:
            return False
        self._free.add(b)
        self.reused[n.id] = self.owned[b]
        return True

    def memory(self, avals: dict) -> dict:
        """Bytes for concrete avals: the peak of live owned buffers over the program, and the
        sum of every intermediate's size (what a node-by-node interpreter allocates)."""
        def nbytes(i):
            return int(np.prod(avals[i].shape, dtype=np.int64)) * np.dtype(avals[i].dtype).itemsize

        block, end = {}, {}  # a block of memory: first owner -> last item any of its owners reads
        for b in self.owned:
            root = b
            while root in self.reused:
                root = self.reused[root].id
            block[b] = root
            end[root] = max(end.get(root, -1), self.last_use.get(b, -1))
        temporary = [r for r in end if end[r] != NEVER]  # blocks that hold no result
        peak = max((sum(nbytes(r) for r in temporary if self.created[r] <= k <= end[r])
                    for k in range(len(self.items))), default=0)
        total = sum(nbytes(n.id) for item in self.items for n in computed(item) if not n.multiple)
        return {"peak_temporary_bytes": peak, "sum_of_intermediates_bytes": total,
                "result_bytes": sum(nbytes(r) for r in end if end[r] == NEVER),
                "buffers": len(end), "buffers_reused": len(self.reused)}


def concrete_avals(f, shapes) -> dict:
    """The aval of every node of ``f`` for concrete input shapes (by the shape rules)."""
    avals = {i.id: Aval(tuple(s), i.dtype) for i, s in zip(f.inputs, shapes)}
    for n in f.nodes:
        if n.id not in avals:
            avals[n.id] = n.aval if n.prim == "const" else get(n.prim).shape_rule(
                *[avals[i.id] for i in n.inputs], **n.params)
    return avals
