"""One fused loop group of the ``cuda`` target: the source of its kernel(s) and the host lines
that allocate its results and launch it.

Elementwise members become scalar code run by one thread per element of the iteration space
(a grid-stride loop over the flat index). A group with reductions (all over the same axes: see
``cuda.split_reductions``) views its iteration space as kept x reduced elements: block b of the
grid's x dimension computes kept elements b, b + gridDim.x, ...; the grid's y dimension cuts each
reduced range into chunks; the block's threads stride over their chunk, each accumulating in a
register, then a tree in shared memory combines the block's partial results. No atomics: the
combination order is fixed, so results are reproducible, and the combine expression is the
primitive's own (a NaN wins a max). One chunk (the usual case: ``cuda_host.chunks``) writes the
result directly; several write partial results that a second, small kernel combines. So a row
reduction (softmax over classes) spreads rows over blocks, and a full reduction of a large array
still fills the GPU.
"""
from __future__ import annotations

from ..engine.primitive import get
from ..ops.cuda_kernels import THREADS
from .codegen import scalar_code
from .names import dtype_code
from .schedule import kind


def _unflatten(flat: str, axes, sizes) -> list:
    """Lines that set ``i<axis>`` for ``axes`` from a flat C-order index over their ``sizes``."""
    lines, q = [], flat
    for pos, a in enumerate(reversed(axes)):
        if pos == len(axes) - 1:
            lines.append(f"i{a} = {q}")
        else:
            lines += [f"i{a} = {q} % {sizes[a]}", f"_q = {q} // {sizes[a]}"]
            q = "_q"
    return lines


def _product(sizes) -> str:
    return " * ".join(sizes) or "1"


def _shape(sizes) -> str:
    """A shape tuple's source; rank 0 is (1,): a device array holds a rank-0 value."""
    return f"({', '.join(sizes)},)" if len(sizes) == 1 else f"({', '.join(sizes)})" if sizes else "(1,)"


class LoopKernel:
    """The kernel of loop group ``group`` (item ``k`` of the schedule) of emitter ``em``:
    ``.host`` lines for the host function, ``.kernels`` sources for the module."""

    def __init__(self, em, group, k: int):
        self.em, self.group, self.k = em, group, k
        self.name = f"_loop{em.prog.prefix}{k}"  # a loop body's kernels have its prefix
        self.dim_args = {}  # host size expression -> kernel parameter
        self.sizes = [d if d.isdigit() else self.dim_args.setdefault(d, f"_d{len(self.dim_args)}") for d in group.dims]
        self.reductions = [m for m in group.members if kind(m) == "reduction"]
        self.reads = []  # host names the kernel reads (arrays, and rank-0 values held on the host)
        for m in group.members:
            for i in m.inputs:
                ref = em.prog.ref(i)
                if i.id not in group.ids and not (i.prim == "const" and i.ndim == 0) and ref not in self.reads:
                    self.reads.append(ref)
        self.host, self.body, self.stores, self.writes = [], [], [], []
        self._members()
        if self.reductions:
            self.kernels = self._reduction_kernels()
        else:
            self.kernels = [self._elementwise_kernel()]

    # --- members ----------------------------------------------------------------------------------
    def _members(self):
        em, group, dims, names = self.em, self.group, self.group.dims, self.em.prog.names
        inner = group.elementwise_ids
        in_place = em._in_place(group)
        index = ", ".join(f"i{p}" for p in range(len(dims))) or "0"
        for m in group.members:
            name = names[m.id]
            args = [em._read(i, dims, inner) for i in m.inputs]
            self.body.append(em.prog.comment(m))
            if kind(m) == "reduction":
                self.body.append(f"{name}_a = {get(m.prim).reduction['combine'](f'{name}_a', args[0])}")
                self.host.append(f"{name} = cuda.device_array({_shape(em.dims(m))}, dtype={dtype_code(m.dtype)})")
                if m.ndim == 0:
                    em.on_device.add(m.id)
                continue
            self.body.append(f"{name}_i = {scalar_code(m, args, 'cuda')}")
            if not em._stored(m, group):
                continue
            reuse = em.plan.claim(m, self.k, in_place) if m.ndim else None
            self.host.append(f"{name} = {names[reuse.id]}  # reuses a dead buffer" if reuse is not None else
                             f"{name} = cuda.device_array({_shape(dims)}, dtype={dtype_code(m.dtype)})")
            self.stores.append(f"{name}[{index}] = {name}_i")
            self.writes.append(name)
            if m.ndim == 0:
                em.on_device.add(m.id)

    def _signature(self, extra=()) -> str:
        return ", ".join(list(self.dim_args.values()) + self.reads + self.writes + list(extra))

    def _launch_args(self, extra=()) -> str:
        return ", ".join(list(self.dim_args) + self.reads + self.writes + list(extra))

    def _doc(self, how: str) -> str:
        names = self.em.prog.names
        members = ", ".join(names[m.id] for m in self.group.members)
        return f'    """Fused loop over ({", ".join(self.sizes)}): {members}. {how}"""'

    # --- elementwise only: one thread per element --------------------------------------------------
    def _elementwise_kernel(self) -> str:
        total = _product(self.sizes)
        names = self.em.prog.names
        self.host.insert(0, f"# fused loop over ({', '.join(self.group.dims)}): "
                            f"{', '.join(names[m.id] for m in self.group.members)}")
        self.host.append(f"{self.name}[_cu.launch({_product(self.group.dims)})]({self._launch_args()})")
        lines = ["@cuda.jit(cache=True)", f"def {self.name}({self._signature()}):",
                 self._doc("One thread per element (a grid-stride loop)."),
                 f"    for _f in range(cuda.grid(1), {total}, cuda.gridsize(1)):"]
        lines += ["        " + line for line in _unflatten("_f", range(len(self.sizes)), self.sizes)]
        lines += ["        " + line for line in self.body + self.stores]
        return "\n".join(lines)

    # --- reductions: kept elements over blocks, chunks of the reduced ones over blocks' threads ----
    def _reduction_kernels(self) -> list:
        em, names, k = self.em, self.em.prog.names, f"{self.em.prog.prefix}{self.k}"  # names of host temporaries
        axes = self.reductions[0].params["axes"]
        kept = [a for a in range(len(self.sizes)) if a not in axes]
        host_kept = _product([self.group.dims[a] for a in kept])
        host_red = _product([self.group.dims[a] for a in axes])
        partial = [f"{names[m.id]}_p" for m in self.reductions]
        head = [f"# fused loop over ({', '.join(self.group.dims)}): {', '.join(names[m.id] for m in self.group.members)}"
                f"; reduces axes {tuple(axes)}",
                f"_kept{k} = {host_kept}  # results of each reduction",
                f"_red{k} = {host_red}  # elements reduced into each",
                f"_parts{k} = _cu.chunks(_kept{k}, _red{k})  # blocks that share each result's elements"]
        self.host = head + self.host
        self.host += [f"{p} = _cu.partials({names[m.id]}, _kept{k}, _parts{k})" for p, m in zip(partial, self.reductions)]
        self.host.append(f"{self.name}[_cu.reduce_launch(_kept{k}, _red{k}, _parts{k})]({self._launch_args(partial)})")
        self.host.append(f"if _parts{k} > 1:  # a second kernel combines the chunks' partial results")
        pairs = ", ".join(f"{p}, _cu.flat({names[m.id]})" for p, m in zip(partial, self.reductions))
        self.host.append(f"    {self.name}_chunks[_cu.launch(_kept{k})]({pairs})")
        for m in self.reductions:
            em.constants[f"_init_{names[m.id]}"] = get(m.prim).reduction["init"](m)
        return [self._reduction_kernel(kept, axes, partial), self._chunks_kernel(partial)]

    def _reduction_kernel(self, kept, axes, partial) -> str:
        names = self.em.prog.names
        red_names = [names[m.id] for m in self.reductions]
        lines = ["@cuda.jit(cache=True)", f"def {self.name}({self._signature(partial)}):",
                 self._doc(f"Reduces axes {tuple(axes)}: one block per kept element (blockIdx.x, strided), "
                           "a chunk of its reduced elements per blockIdx.y, shared by the block's threads; "
                           "a tree in shared memory combines the threads' partial results."),
                 "    _t = cuda.threadIdx.x"]
        lines += [f"    {r}_s = cuda.shared.array({THREADS}, {p}.dtype)  # the block's partial results of {r}"
                  for r, p in zip(red_names, partial)]
        lines += [f"    _n = {_product([self.sizes[a] for a in axes])}  # elements reduced into each result",
                  "    _size = (_n + cuda.gridDim.y - 1) // cuda.gridDim.y  # of a chunk",
                  "    _lo = cuda.blockIdx.y * _size",
                  f"    for _k in range(cuda.blockIdx.x, {_product([self.sizes[a] for a in kept])}, cuda.gridDim.x):"]
        lines += ["        " + line for line in _unflatten("_k", kept, self.sizes)]
        lines += [f"        {r}_a = _init_{r}" for r in red_names]
        lines.append("        for _r in range(_lo + _t, min(_lo + _size, _n), cuda.blockDim.x):")
        lines += ["            " + line for line in _unflatten("_r", axes, self.sizes)]
        lines += ["            " + line for line in self.body + self.stores]
        lines += [f"        {r}_s[_t] = {r}_a" for r in red_names]
        lines += ["        cuda.syncthreads()",
                  "        _h = cuda.blockDim.x // 2",
                  "        while _h > 0:",
                  "            if _t < _h:"]
        for m, r in zip(self.reductions, red_names):
            combine = get(m.prim).reduction["combine"](f"{r}_s[_t]", f"{r}_s[_t + _h]")
            lines.append(f"                {r}_s[_t] = {combine}")
        lines += ["            cuda.syncthreads()",
                  "            _h //= 2",
                  "        if _t == 0:"]
        lines += [f"            {p}[_k, cuda.blockIdx.y] = {r}_s[0]" for r, p in zip(red_names, partial)]
        lines.append("        cuda.syncthreads()  # the trees are refilled for the next kept element")
        return "\n".join(lines)

    def _chunks_kernel(self, partial) -> str:
        names = self.em.prog.names
        red_names = [names[m.id] for m in self.reductions]
        lines = ["@cuda.jit(cache=True)",
                 f"def {self.name}_chunks({', '.join(f'{p}, {r}' for p, r in zip(partial, red_names))}):",
                 f'    """Combines the chunks\' partial results of {self.name}: one thread per result."""',
                 f"    for _k in range(cuda.grid(1), {partial[0]}.shape[0], cuda.gridsize(1)):"]
        for m, r, p in zip(self.reductions, red_names, partial):
            combine = get(m.prim).reduction["combine"](f"{r}_a", f"{p}[_k, _c]")
            lines += [f"        {r}_a = {p}[_k, 0]",
                      f"        for _c in range(1, {p}.shape[1]):",
                      f"            {r}_a = {combine}",
                      f"        {r}[_k] = {r}_a"]
        return "\n".join(lines)
