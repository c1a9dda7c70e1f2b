"""Scheduling for the loop targets: order the nodes and group elementwise and reduction nodes
that iterate over the same shape into one loop nest (fusion).

A group is a loop nest over one iteration space. Its elementwise members are scalar temporaries
inside the loop; only those read outside the group get a buffer. Reductions accumulate in the same
loop; their results are readable only after the loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.ir import Node
from ..engine.primitive import get


# A loop body past this many nodes is split in two: LLVM's time grows faster than linearly with
# the size of one basic block (a 380-node body took 9 s to compile).
MAX_MEMBERS = 48


def kind(n: Node) -> str:
    return get(n.prim).kind if n.prim not in ("var", "const") else "leaf"


def iteration_node(n: Node) -> Node:
    """The node whose shape a loop computing ``n`` runs over (a reduction runs over its input)."""
    return n.inputs[0] if kind(n) == "reduction" else n


@dataclass
class Group:
    dims: tuple  # dim expressions of the iteration space
    members: list = field(default_factory=list)

    @property
    def ids(self):
        return {m.id for m in self.members}

    @property
    def elementwise_ids(self):
        return {m.id for m in self.members if kind(m) == "elementwise"}


class Scheduler:
    """Orders a function's nodes into statements and fused loop groups."""

    def __init__(self, nodes, dims_of):
        self.dims_of = dims_of  # node -> tuple of dim expression strings
        self.pending = {n.id: n for n in nodes if n.prim not in ("var", "const")}  # in topological order
        self.avail = {n.id for n in nodes if n.prim in ("var", "const")}
        self.items = []

    def loopable(self, n: Node) -> bool:
        return kind(n) in ("elementwise", "reduction") and iteration_node(n).ndim > 0

    def _ready(self, n: Node, extra=frozenset()) -> bool:
        return all(i.id in self.avail or i.id in extra for i in n.inputs)

    def run(self) -> list:
        """Items in execution order: ("stmt", node) or ("loop", Group)."""
        group, before = None, []
        while self.pending:
            if group is not None:
                inner = group.elementwise_ids
                joins = None if len(group.members) >= MAX_MEMBERS else next(
                    (n for n in self.pending.values() if self.loopable(n) and self._ready(n, inner)
                     and self.dims_of(iteration_node(n)) == group.dims), None)
                if joins is not None:
                    group.members.append(joins)
                    del self.pending[joins.id]
                    continue
                # a statement that does not need the group can run before its loop
                independent = next((n for n in self.pending.values() if not self.loopable(n) and self._ready(n)), None)
                if independent is not None:
                    before.append(independent)
                    self.avail.add(independent.id)
                    del self.pending[independent.id]
                    continue
                self._close(group, before)
                group, before = None, []
                continue
            n = next(n for n in self.pending.values() if self._ready(n))
            del self.pending[n.id]
            if self.loopable(n):
                group = Group(self.dims_of(iteration_node(n)), [n])
            else:
                self.items.append(("stmt", n))
                self.avail.add(n.id)
        if group is not None:
            self._close(group, before)
        return self.items

    def _close(self, group, before):
        self.items.extend(("stmt", b) for b in before)
        self.items.append(("loop", group))
        self.avail |= group.ids
