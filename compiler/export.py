"""``export``: a compiled Function written as one standalone Python module (numpy and numba, no adjit).

The exported file holds, in this order: a docstring (function, inputs, outputs, versions), the
imports, the source of every adjit helper the generated code calls (``_k.NAME`` kernels,
``_m.NAME`` vector math) and, transitively, of what those helpers use, copied with
``inspect.getsource``; the generated function as ``jit`` made it (renamed with a leading
underscore); the array constants (a literal for small arrays, else base64 of their ``.npy`` bytes:
never pickle); and a public wrapper named after the Function that converts arguments and returns
arrays exactly as ``compiler.jit(f)(...)`` does.

No user string enters the file as typed: the function and input names appear only as the
sanitized names codegen gave them, everything else is generated from dtypes, shapes and numbers.
"""
from __future__ import annotations

import ast
import base64
import importlib
import inspect
import io
import os
import symtable
import sys
import tempfile
import textwrap
import tokenize
import types
from pathlib import Path

import numba
import numpy as np

from ..engine.function import Function, trace
from ..engine.transforms import Lazy
from .entry import PYTHON_SCALAR_TYPES
from .jit import Compiled, Jitted, jit
from .names import RESERVED, dtype_code, sanitize


def export(fn, path, *args, target: str | None = None, optimize: bool = True, parallel: bool = False,
           name: str | None = None) -> Path:
    """Write ``fn`` compiled for ``target`` as one standalone module at ``path`` (a ``.py`` file)
    that needs numpy (and numba for ``"cpu"``) but not adjit. Returns the path.

    ``fn`` is a Function, or what ``compiler.jit`` accepts (a callable or a lazy transformation,
    traced with ``args``: example arrays, numbers or ``Spec``s, ``Spec((None, 3))`` for a
    dynamic dimension), or the result of ``compiler.jit``. ``target`` is ``"cpu"`` (numba, the
    default; numba caches the machine code next to the file) or ``"numpy"`` (numpy only). The
    graph is optimized with the passes ``jit`` runs (unless ``optimize=False``); ``parallel`` is
    ``jit``'s (numba threads for the fused loops, cpu target). The module's
    public function is named after the Function (or ``name``, sanitized), takes its inputs and
    returns what ``compiler.jit(f, target)(...)`` returns; its docstring lists them.

    >>> import tempfile, importlib.util, numpy as np, adjit
    >>> from adjit import compiler, ops
    >>> def loss(w, x): return ops.sum(ops.tanh(x @ w))
    >>> path = compiler.export(adjit.grad(loss, wrt="w"), tempfile.mkdtemp() + "/grad_loss.py",
    ...                        np.ones(3), np.ones((2, 3)), target="numpy")
    >>> spec = importlib.util.spec_from_file_location("grad_loss", path)
    >>> module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    >>> module.grad_loss(np.ones(3), np.ones((2, 3))).round(4).tolist()
    [0.0197, 0.0197, 0.0197]
    """
    compiled = _compile(fn, args, target, optimize, parallel)
    path = Path(path)
    if path.suffix != ".py":
        raise ValueError(f"export: the path must name a .py file, got {path.name!r}")
    text = module_source(compiled, name)
    # a new file, never a partly written one (another process may import it meanwhile)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def _compile(fn, args, target, optimize, parallel) -> Compiled:
    if isinstance(fn, (Compiled, Jitted)):
        if target is not None and target != fn.target:
            raise ValueError(f"export: fn is compiled for {fn.target!r}, not {target!r}")
        target = fn.target
        if isinstance(fn, Compiled):
            if args:
                raise TypeError("export: a compiled Function takes no example arguments")
            return fn
        fn, optimize, parallel = fn.fn, fn.optimize, fn.parallel
    target = target or "cpu"
    if isinstance(fn, Function):
        if args:
            raise TypeError(f"export: a Function knows its input shapes; got {len(args)} example "
                            "arguments, expected none")
        return jit(fn, target, optimize, parallel)
    if not callable(fn):
        raise TypeError(f"export: expected a Function or a callable, got {type(fn).__name__}")
    if not args:
        raise TypeError("export: a callable is traced: pass example arguments or Specs, one per input")
    f = fn.function_for(*args) if isinstance(fn, Lazy) else trace(fn, *args)
    return jit(f, target, optimize, parallel)


# --- the generated module ------------------------------------------------------------------------
def _lines(source: str, stmt: ast.stmt, decorators: bool = True) -> str:
    """The source lines of a top-level statement (with its decorators unless told otherwise)."""
    first = stmt.lineno
    if decorators and getattr(stmt, "decorator_list", None):
        first = min(d.lineno for d in stmt.decorator_list)
    return "".join(source.splitlines(keepends=True)[first - 1:stmt.end_lineno])


def _split(source: str) -> tuple:
    """(the import statements, the rest verbatim) of a generated module, its docstring dropped."""
    tree = ast.parse(source)
    drop, imports = set(), []
    for k, stmt in enumerate(tree.body):
        docstring = k == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        if docstring or isinstance(stmt, (ast.Import, ast.ImportFrom)):
            drop.update(range(stmt.lineno, stmt.end_lineno + 1))
            if not docstring:
                imports.append(stmt)
    body = "".join(line for n, line in enumerate(source.splitlines(keepends=True), 1) if n not in drop)
    return imports, body.strip("\n") + "\n", tree


def _rename(source: str, old: str, new: str) -> str:
    """``source`` with the identifier ``old`` (not an attribute, string or comment) renamed."""
    lines = source.splitlines(keepends=True)
    hits, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string == old and previous != ".":
            hits.append(tok.start)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.string
    for row, col in reversed(hits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old):]
    return "".join(lines)


def _identifiers(source: str) -> set:
    return {tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.NAME}


# --- helpers copied from adjit ---------------------------------------------------------------------
class _Helpers:
    """Resolves the global names that copied code needs, as the exported module's globals:
    imports, and the source of adjit functions and module-level constants, dependencies first."""

    def __init__(self, target: str):
        self.target = target
        self.bound = {}  # name in the exported module -> the object it stands for
        self.imports = {}  # name -> import statement
        self.pieces = []  # (adjit module name or None for an alias, line in it, source text)
        self._trees = {}

    def bind(self, name: str, value, where: str):
        if name in self.bound and self.bound[name] is not value:
            raise RuntimeError(f"export: two different objects are both named {name!r} ({where})")
        new = name not in self.bound
        self.bound[name] = value
        return new

    def import_module(self, name: str, module: types.ModuleType, where: str):
        if module.__name__.split(".")[0] == "adjit":
            raise RuntimeError(f"export: {where} uses the adjit module {module.__name__} as {name!r}")
        if module.__name__.split(".")[0] == "numba" and self.target == "numpy":
            raise RuntimeError(f"export: {where} needs numba, which the numpy target does not import")
        if self.bind(name, module, where):
            plain = name == module.__name__
            self.imports[name] = f"import {module.__name__}" + ("" if plain else f" as {name}")

    def _tree(self, module) -> tuple:
        """An adjit module's source; its top-level definitions (name -> statements); and the
        functions registered on a name by a decorator (``@overload(name)``: name -> def names)."""
        if module.__name__ not in self._trees:
            source = inspect.getsource(module)
            found, registered = {}, {}
            for stmt in ast.parse(source).body:
                names = []
                if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                    names = [stmt.name]
                    for d in stmt.decorator_list:
                        if isinstance(d, ast.Call):  # @overload(_consts): needed wherever _consts is
                            for n in ast.walk(d):
                                if isinstance(n, ast.Name) and n.id != stmt.name:
                                    registered.setdefault(n.id, []).append(stmt.name)
                elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                for n in names:
                    found.setdefault(n, []).append(stmt)
            self._trees[module.__name__] = (source, found, registered)
        return self._trees[module.__name__]

    def need(self, name: str, module: types.ModuleType):
        """Make ``name``, a global of the adjit ``module``, a global of the exported module."""
        where = f"{module.__name__}.{name}"
        value = vars(module)[name]
        if name in self.bound and self.bound[name] is value:
            return
        if isinstance(value, types.ModuleType):
            return self.import_module(name, value, where)
        source, found, _ = self._tree(module)
        if name in found:
            if len(found[name]) > 1:
                raise RuntimeError(f"export: {where} is defined {len(found[name])} times; cannot copy it")
            return self._copy(name, value, module, source, found[name][0])
        home = getattr(value, "__module__", None) or ""
        original = getattr(value, "__name__", None)
        if home.split(".")[0] == "adjit" and original and vars(sys.modules[home]).get(original) is value:
            self.need(original, sys.modules[home])  # imported from another adjit module
            if self.bind(name, value, where):
                self.pieces.append((None, 0, f"{name} = {original}  # as {module.__name__} imports it\n"))
            return
        if home and original and getattr(importlib.import_module(home), original, None) is value:
            if home.split(".")[0] == "numba" and self.target == "numpy":
                raise RuntimeError(f"export: {where} needs numba, which the numpy target does not import")
            if self.bind(name, value, where):
                self.imports[name] = f"from {home} import {original}" + ("" if name == original else f" as {name}")
            return
        raise RuntimeError(f"export: cannot copy {where} ({type(value).__name__}) into a standalone module")

    def _copy(self, name, value, module, source, stmt):
        where = f"{module.__name__}.{name}"
        jitted = isinstance(value, numba.core.dispatcher.Dispatcher)
        if not isinstance(stmt, ast.FunctionDef):
            text = _lines(source, stmt)
        elif isinstance(value, types.FunctionType) or jitted:
            text = inspect.getsource(value.py_func if jitted else value)
        else:  # a def made into something else by its decorator (a numba ufunc, ...)
            text = _lines(source, stmt)
        if self.target == "numpy" and isinstance(stmt, ast.FunctionDef) and stmt.decorator_list:
            if not jitted:
                raise RuntimeError(f"export: {where} is a {type(value).__name__}, which needs numba")
            # the same Python code runs without numba (plain loops: slower, the same results)
            text = ("# a compiled kernel in adjit, plain Python here (target numpy)\n"
                    + _lines(text, ast.parse(textwrap.dedent(text)).body[0], decorators=False))
        if not self.bind(name, value, where):
            return
        _, found, registered = self._tree(module)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):  # `a, b = ...` defines both
            for other, stmts in found.items():
                if other != name and any(s is stmt for s in stmts):
                    self.bind(other, vars(module)[other], where)
        for needed in sorted(_globals_used(text)):
            if needed != name and not needed.startswith("__") and needed in vars(module):
                self.need(needed, module)
        self.pieces.append((module.__name__, stmt.lineno, text))
        for other in registered.get(name, []):  # after the name: the decorator uses it
            self.need(other, module)


def _globals_used(text: str) -> set:
    """The global names a top-level statement reads: at module level (decorators, defaults, an
    assigned value) and inside its functions, found by Python's own scoping (symtable)."""
    table = symtable.symtable(textwrap.dedent(text), "<copied>", "exec")
    used = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        used |= {s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced()}
        stack.extend(child.get_children())
    return used


# --- writing the module ----------------------------------------------------------------------------
def _aval(dtype, shape) -> str:
    return f"{np.dtype(dtype).name}[{', '.join('?' if d is None else str(d) for d in shape)}]"


def _constant(c: np.ndarray, frozen: str, load: str) -> tuple:
    """(code for the array ``c``, whether it uses the base64 loader)."""
    literal = repr(c.tolist()) if 0 < c.size <= 64 else ""
    small = 0 < len(literal) <= 200 and (c.dtype.kind != "f" or bool(np.isfinite(c).all()))
    if small:  # readable and exact: repr of a float round-trips
        code = f"np.array({literal}, dtype={dtype_code(c.dtype.name)})"
    else:
        buf = io.BytesIO()
        np.save(buf, c, allow_pickle=False)
        text = base64.b64encode(buf.getvalue()).decode("ascii")
        chunks = [text[k:k + 96] for k in range(0, len(text), 96)] or [""]
        code = f"{load}(\n" + "".join(f'        "{chunk}"\n' for chunk in chunks) + "    )"
    return (f"{frozen}({code})" if not c.flags.writeable else code), not small


def module_source(compiled: Compiled, name: str | None = None) -> str:
    """The text of the standalone module for ``compiled`` (what ``export`` writes)."""
    from .. import __version__
    f, target = compiled.function, compiled.target
    imports, body, tree = _split(compiled.source)
    entry = getattr(compiled._fn, "py_func", compiled._fn).__name__
    entry_def = next(s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == entry)
    params = [a.arg for a in entry_def.args.args]
    inputs, const_names = params[:len(f.inputs)], params[len(f.inputs):]

    helpers = _Helpers(target)
    helpers.import_module("np", np, "the public function")
    namespaces = {}  # alias in the generated code -> (adjit module, names it uses)
    for stmt in imports:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue  # the exported module has its own, first
        for alias in stmt.names:
            as_name = alias.asname or alias.name.split(".")[0]
            if isinstance(stmt, ast.Import):
                if not (alias.name == "numba" and target == "numpy"):  # numpy code imports it unused
                    helpers.import_module(as_name, importlib.import_module(alias.name), "the generated code")
                continue
            value = getattr(importlib.import_module(stmt.module), alias.name)
            if stmt.module.split(".")[0] != "adjit":
                helpers.bind(as_name, value, "the generated code")
                helpers.imports[as_name] = f"from {stmt.module} import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else "")
            elif isinstance(value, types.ModuleType):  # _k, _m: copy only the names used
                namespaces[as_name] = (value, set())
            else:
                helpers.need(alias.name, importlib.import_module(stmt.module))
                if as_name != alias.name and helpers.bind(as_name, value, "the generated code"):
                    helpers.pieces.append((None, 0, f"{as_name} = {alias.name}  # as the generated code imports it\n"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in namespaces:
            namespaces[node.value.id][1].add(node.attr)
    namespaces = {alias: spec for alias, spec in namespaces.items() if spec[1]}
    for alias, (module, used) in namespaces.items():
        for attr in sorted(used):
            helpers.need(attr, module)

    defined = {stmt.name for stmt in tree.body if isinstance(stmt, (ast.FunctionDef, ast.ClassDef))}
    defined |= {n.id for stmt in tree.body if isinstance(stmt, ast.Assign)
                for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    clash = sorted(d for d in defined if d in helpers.bound and d != entry)
    if clash:
        raise RuntimeError(f"export: the generated code defines {clash}, also names of copied helpers")
    taken = (_identifiers(body) | set(helpers.bound) | set(inputs) | set(RESERVED)) - {entry}
    wrapper = sanitize(entry if name is None else name, set(taken), "fn")  # unique: never shadows a helper
    taken.add(wrapper)

    def fresh(base: str) -> str:
        while base in taken:
            base += "_"
        taken.add(base)
        return base

    priv = {k: fresh("_" + k) for k in ("types", "io", "base64", "load", "frozen", "checked", "arguments",
                                     "outputs", "INPUTS", "CONSTS")}
    impl = fresh("_" + entry)
    body = _rename(body, entry, impl)

    consts = []
    uses_load = uses_frozen = False
    for cname, c in zip(const_names, compiled._consts):
        code, loaded = _constant(c, priv["frozen"], priv["load"])
        uses_load |= loaded
        uses_frozen |= not c.flags.writeable
        consts.append(f"    {code},  # {cname}  {_aval(c.dtype, c.shape)}\n")

    out = [_docstring(f, target, wrapper, inputs, __version__)]
    out.append("from __future__ import annotations\n\n")
    std = [f"import {m} as {priv[m]}\n" for m, used in (("base64", uses_load), ("io", uses_load),
                                                    ("types", bool(namespaces))) if used]
    out.append("".join(std) + ("\n" if std else ""))
    third = sorted(helpers.imports.values(), key=lambda s: (not s.startswith("import "), s))
    out.append("".join(line + "\n" for line in third))
    out.append(f"\n__all__ = [{wrapper!r}]\n")
    for m in dict.fromkeys(m for m, _, _ in helpers.pieces if m is not None):
        # in the module's own order, which ran there (found dependencies first)
        out.append(_section(f"copied from {m} (inspect.getsource), only what the generated code uses"))
        texts = [text.rstrip("\n") + "\n" for _, _, text in sorted(piece for piece in helpers.pieces if piece[0] == m)]
        out.append("\n\n".join(texts))
    out.extend("\n" + text for m, _, text in helpers.pieces if m is None)
    for alias, (module, used) in namespaces.items():
        out.append(f"\n\n{alias} = {priv['types']}.ModuleType({alias!r})  # the generated code calls "
                   f"{module.__name__} as {alias}.NAME\n")
        out.extend(f"{alias}.{attr} = {attr}\n" for attr in sorted(used))
    out.append(_section(f"the generated function (adjit.compiler, target {target}), renamed {impl}"))
    out.append(body)
    out.append(_section("array constants: extra arguments of the generated function"))
    if uses_load:
        out.append(f"def {priv['load']}(text):\n    \"\"\"An array from base64 of its .npy bytes (never pickle).\"\"\"\n"
                   f"    return np.load({priv['io']}.BytesIO({priv['base64']}.b64decode(text)), allow_pickle=False)\n\n\n")
    if uses_frozen:
        out.append(f"def {priv['frozen']}(a):\n    a.flags.writeable = False  # as adjit holds constants\n"
                   f"    return a\n\n\n")
    out.append(f"{priv['CONSTS']} = (\n" + "".join(consts) + ")\n" if consts else f"{priv['CONSTS']} = ()  # none\n")
    out.append(_section("the public function"))
    out.append(_wrapper(f, compiled, target, wrapper, impl, inputs, priv))
    return "".join(out)


def _section(title: str) -> str:
    return f"\n\n# --- {title} " + "-" * max(3, 96 - len(title)) + "\n"


def _docstring(f, target, wrapper, inputs, version) -> str:
    needs = ("Needs numpy, not adjit." if target == "numpy" else "Needs numpy and numba (scipy for matrix "
             "products), not adjit. numba caches the\nmachine code in __pycache__ next to this file.")
    width = max((len(n) for n in inputs), default=0)
    ins = [f"    {n.ljust(width)}  {_aval(i.dtype, i.shape)}" for n, i in zip(inputs, f.inputs)] or ["    none"]
    outs = [f"    {k}: {_aval(o.dtype, o.shape)}" for k, o in enumerate(f.outputs)]
    versions = f"numpy {np.__version__}" + (f", numba {numba.__version__}" if target == "cpu" else "")
    lines = [
        f'"""`{wrapper}`: compiled by adjit {version} for target `{target}`, exported standalone.',
        "",
        needs,
        "",
        f"    {wrapper}({', '.join(inputs)})",
        "",
        "Inputs (a ? dimension takes any size):", *ins,
        "Returns " + (f"a tuple of {len(f.outputs)} arrays:" if f.multiple else "one array:"), *outs,
        "",
        "Arguments are converted as adjit's compiled functions convert them: another dtype is cast",
        "when numpy casts it safely (integers to floats too); shapes must match.",
        "",
        f"Graph key {f.key}; exported with {versions}, Python {sys.version_info[0]}.{sys.version_info[1]}.",
        '"""',
    ]
    return "\n".join(lines) + "\n"


_WRAPPER = '''\
{INPUTS} = (  # name, dtype, shape (None: any size), rank 0 and passed as a Python scalar
{specs})


def {checked}(name, value, dtype, shape):
    """The argument as an array of the input's dtype, or a one-line error naming the input."""
    arr = np.asarray(value)
    if arr.dtype != dtype:
        if not (np.can_cast(arr.dtype, dtype, "same_kind") or (arr.ndim == 0 and arr.dtype.kind in "biuf")
                or (arr.dtype.kind in "iu" and dtype.kind == "f")):
            raise TypeError(f"{wrapper}: argument {{name!r}} has dtype {{arr.dtype}}, expected {{dtype}}")
        arr = arr.astype(dtype)
    if arr.ndim != len(shape) or any(d is not None and d != s for d, s in zip(shape, arr.shape)):
        raise ValueError(f"{wrapper}: argument {{name!r}} has shape {{arr.shape}}, expected "
                         f"{{tuple('?' if d is None else d for d in shape)}}")
    return arr


def {arguments}(*values):
    """The arguments as the generated function takes them; the common case costs no conversion."""
    out = []
    for a, (name, dtype, shape, python_scalar) in zip(values, {INPUTS}):
        if not (type(a) is np.ndarray and a.dtype == dtype and a.ndim == len(shape) and a.flags.c_contiguous
                and all(d is None or d == s for d, s in zip(shape, a.shape))):
            if type(a) is float and python_scalar and not shape and dtype == np.float64:
                out.append(a)
                continue
            a = {checked}(name, a, dtype, shape)
            if not a.flags.c_contiguous:  # C order, as adjit passes it
                a = np.ascontiguousarray(a)
{scalars}        out.append(a)
    return out


def {outputs}(out):
    """Results as adjit returns them: arrays, and rank-0 results as scalars (Python float, int
    and bool for float64, int64 and bool; numpy scalars of other dtypes)."""
    return {convert}


def {wrapper}({params}):
    """{signature}"""
    _args = {arguments}({params})
    {call}
    return {outputs}(_out)
'''


def _wrapper(f, compiled, target, wrapper, impl, inputs, p) -> str:
    specs = "".join(f"    ({n!r}, np.dtype({np.dtype(dtype).name!r}), {tuple(shape)!r}, {scalar and not ndim}),\n"
                    for n, (dtype, ndim, shape, scalar) in zip(inputs, compiled._specs))
    scalars = ("        if not shape:  # numba dispatches fastest on scalars\n"
               "            a = a.item() if python_scalar else a[()]\n") if target == "cpu" else ""
    results = [_result_code(o, f"out[{k}]" if f.multiple else "out") for k, o in enumerate(f.outputs)]
    convert = "(" + "".join(r + ", " for r in results).rstrip() + ")" if f.multiple else results[0]
    call = f"_out = {impl}(*_args, *{p['CONSTS']})"
    if target == "numpy":
        call = f"with np.errstate(all=\"ignore\"):  # numpy semantics: inf and nan, no warnings\n        {call}"
    ins = [f"{n}: {_aval(i.dtype, i.shape)}" for n, i in zip(inputs, f.inputs)]
    outs = [_aval(o.dtype, o.shape) for o in f.outputs]
    if f.multiple:
        outs = ["(" + outs[0]] + outs[1:-1] + [outs[-1] + ")"] if len(outs) > 1 else [f"({outs[0]},)"]
    items = [i + "," for i in ins[:-1]] + ins[-1:] + ["->"] + [o + "," for o in outs[:-1]] + outs[-1:]
    lines = [""]
    for item in items:  # break lines between items only
        if lines[-1] and len(lines[-1]) + len(item) > 88:
            lines.append("")
        lines[-1] += (" " if lines[-1] else "") + item
    signature = "\n    ".join(lines)
    return _WRAPPER.format(specs=specs, scalars=scalars, convert=convert, call=call,
                           wrapper=wrapper, params=", ".join(inputs), signature=signature, **p)


def _result_code(o, value: str) -> str:
    """Source converting one result as ``compiler.entry`` does."""
    if o.ndim:
        return f"np.asarray({value}, dtype=np.{np.dtype(o.dtype).name})"
    return f"{PYTHON_SCALAR_TYPES[o.dtype].__name__}({value})" if o.dtype in PYTHON_SCALAR_TYPES else \
        f"np.{np.dtype(o.dtype).name}({value})"
