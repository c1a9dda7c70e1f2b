"""compiler.export: one standalone module that runs without adjit (and without numba for the numpy
target), gives what compiler.jit gives, and carries no user string as typed."""
import doctest
import importlib.util
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adjit
from adjit import Spec, compiler, engine, ops
from adjit.compiler.export import _globals_used, _Helpers

# Runs exported modules in a fresh interpreter (-I: no PYTHONPATH, no user site, no cwd on the
# path) where importing adjit (and, when asked, numba) fails, then saves what they return.
RUNNER = textwrap.dedent('''
    import importlib.abc, importlib.util, json, sys
    jobs, blocked = json.loads(sys.argv[1]), set(sys.argv[2].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ImportError(f"{name} is blocked in this test")

    sys.meta_path.insert(0, Block())
    import numpy as np
    hits, types = [], []
    for k, job in enumerate(jobs):
        spec = importlib.util.spec_from_file_location(f"exported_{k}", job["path"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as a plain import does: numba's cache needs it
        spec.loader.exec_module(module)
        for c, call in enumerate(job["calls"]):
            with np.load(call, allow_pickle=False) as data:
                args = [data[f"arg_{a}"] for a in range(len(data.files))]
            args = [a.item() if a.dtype == np.float64 and a.ndim == 0 else a for a in args]  # Python floats
            out = getattr(module, job["name"])(*args)
            out = out if isinstance(out, tuple) else (out,)
            np.savez(call.replace(".npz", "_out.npz"), *out)
            types.append([type(o).__name__ for o in out])
        jitted = [v for v in vars(module).values() if hasattr(v, "py_func") and hasattr(v, "stats")]
        hits.append(sum(sum(v.stats.cache_hits.values()) for v in jitted))  # numba's on-disk cache
    imported = sorted(m for m in sys.modules if m.split(".")[0] in blocked | {"adjit"})
    print(json.dumps({"imported": imported, "cache_hits": hits, "types": types}))
''')


def run_isolated(tmp_path, jobs, block=("adjit",), tag="run"):
    """Start running jobs [(module path, function name, [args, ...])]; the returned function waits
    and gives the outputs per job, per call (tuples), and numba cache hits per job."""
    spec, paths = [], []
    for j, (path, name, calls) in enumerate(jobs):
        files = []
        for c, args in enumerate(calls):
            file = tmp_path / f"{tag}_job{j}_call{c}.npz"
            np.savez(file, **{f"arg_{a}": np.asarray(x) for a, x in enumerate(args)})
            files.append(str(file))
        spec.append({"path": str(path), "name": name, "calls": files})
        paths.append(files)
    (tmp_path / "runner.py").write_text(RUNNER)
    proc = subprocess.Popen([sys.executable, "-I", str(tmp_path / "runner.py"), json.dumps(spec), ",".join(block)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def results():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-3000:]
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report["imported"] == []  # adjit (and what was blocked) never imported
        out, types = [], iter(report["types"])
        for files in paths:
            per_call = []
            for file in files:
                with np.load(file.replace(".npz", "_out.npz")) as data:
                    arrays = [data[f"arr_{k}"] for k in range(len(data.files))]
                per_call.append(tuple(_as_returned(a, name) for a, name in zip(arrays, next(types))))
            out.append(per_call)
        return out, report["cache_hits"]
    return results


def _as_returned(a, type_name):
    """A result read back from an .npz as the exported function returned it (rank 0: a scalar)."""
    if type_name == "ndarray":
        return a
    return {"float": float, "int": int, "bool": bool}.get(type_name, getattr(np, type_name, None))(a)


def load(path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --- the programs -------------------------------------------------------------------------------------
def mlp_loss(W1, b1, W2, b2, x, y):
    """Softmax cross-entropy of a one-hidden-layer net; y is one-hot."""
    logits = ops.tanh(x @ W1 + b1) @ W2 + b2
    return -ops.mean(ops.sum(y * ops.log_softmax(logits, axis=-1), axis=-1))


def train_step(W1, b1, W2, b2, x, y, lr):
    loss, gW1, gb1, gW2, gb2 = adjit.value_and_grad(mlp_loss, wrt=(0, 1, 2, 3))(W1, b1, W2, b2, x, y)
    return loss, W1 - lr * gW1, b1 - lr * gb1, W2 - lr * gW2, b2 - lr * gb2


W_CONST = np.random.default_rng(1).normal(size=(4, 3))  # base64 (long)
SCALE = np.array([1.0, -2.0, 0.5])  # a literal
LIMITS = np.array([np.inf, 0.5, -np.inf, 1.0])  # base64 (not finite)


def with_constants(x):
    return ops.sum(ops.tanh(x @ W_CONST) * SCALE, axis=-1) + ops.sum(ops.where(x < LIMITS, x, 0.0))


def embed_max(W, E, idx):
    """take, and an argmax mask (the max's adjoint); take's adjoint is not needed (wrt W)."""
    return ops.sum(ops.max(ops.take(E, idx) * W, axis=1) * np.arange(1.0, 5.0))


def scaled32(x):
    return ops.sum(x * np.linspace(0, 1, 3, dtype=np.float32)) * 2.0


def programs():
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(4, 5)) * 0.5, np.zeros(5), rng.normal(size=(5, 3)) * 0.5, np.zeros(3)]

    def batch(n):
        return rng.normal(size=(n, 4)), np.eye(3)[rng.integers(0, 3, n)]
    return {
        # name: (fn, example args or Specs, calls)
        "scalar_grad": (adjit.grad(lambda x: ops.sin(x) * ops.exp(x)), [1.0], [[1.3], [np.array(-0.5)]]),
        "train_step": (train_step, [*(Spec(p.shape) for p in params), Spec((None, 4)), Spec((None, 3)), 0.1],
                       [[*params, *batch(8), 0.1], [*params, *batch(3), 0.05]]),
        "constants": (with_constants, [np.ones((2, 4))], [[rng.normal(size=(2, 4))]]),
        "embed": (adjit.value_and_grad(embed_max, wrt=0), [np.ones((4, 3)), np.ones((6, 3)), np.array([0, 2, 5, 2])],
                  [[rng.normal(size=(4, 3)), rng.normal(size=(6, 3)), np.array([0, 2, 5, -1])]]),
        "float32": (scaled32, [np.ones(3, np.float32)], [[np.array([1.5, -2.0, 3.0], np.float32)]]),
    }


def expected(fn, example, calls, target):
    compiled = compiler.jit(fn, target).compiled_for(*example)
    return [o if isinstance(o, tuple) else (o,) for o in (compiled(*args) for args in calls)]


@pytest.mark.parametrize("target", ["numpy", "cpu"])
def test_exported_modules_run_without_adjit_and_match_jit(tmp_path, target):
    jobs = []
    for name, (fn, example, calls) in programs().items():
        path = compiler.export(fn, tmp_path / f"{name}.py", *example, target=target)
        text = path.read_text()
        assert "adjit." not in text.split('"""', 2)[2].replace("copied from adjit.", "").replace(
            "calls adjit.", "").replace("(adjit.compiler", "")  # no import or use of adjit
        if target == "numpy":
            assert "numba" not in text
        jobs.append((path, load(path).__all__[0], calls))
    block = ("adjit", "numba") if target == "numpy" else ("adjit",)
    # two processes (numba compiles the embed kernels for a while) while this one runs jit
    first = run_isolated(tmp_path, jobs[:3], block, "first")
    second = run_isolated(tmp_path, jobs[3:], block, "second")
    wanted = [expected(fn, example, calls, target) for fn, example, calls in programs().values()]
    (outputs, hits), (more, more_hits) = first(), second()
    outputs, hits = outputs + more, hits + more_hits
    assert hits == [0] * len(jobs)
    for (path, _, _), got, want in zip(jobs, outputs, wanted):
        for g_call, w_call in zip(got, want):
            assert len(g_call) == len(w_call)
            for g, w in zip(g_call, w_call):
                assert type(g) is type(w) and np.shape(g) == np.shape(w), path.name
                assert not isinstance(g, np.ndarray) or g.dtype == w.dtype, path.name
                if target == "numpy":
                    np.testing.assert_array_equal(g, w, err_msg=path.name)  # to the last bit
                else:
                    np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15, err_msg=path.name)
    if target == "cpu":  # numba's cache lives next to the exported file: a new process loads it
        assert {p.name.split(".")[0] for p in (tmp_path / "__pycache__").glob("*.nbi")} >= {"scalar_grad", "embed"}
        again, hits = run_isolated(tmp_path, jobs[:1], tag="again")()
        assert hits[0] > 0
        np.testing.assert_array_equal(again[0][0][0], outputs[0][0][0])


def test_module_layout_copies_only_referenced_kernels(tmp_path):
    fn, example = adjit.value_and_grad(lambda E, idx: ops.sum(ops.max(ops.take(E, idx), axis=1))), \
        [np.ones((6, 3)), np.array([0, 2, 5, 2])]
    text = compiler.export(fn, tmp_path / "embed.py", *example, name="embed").read_text()  # not compiled
    for kernel in ("take_2d", "take_grad_2d", "argmax_mask_2d"):
        assert f"\ndef {kernel}(" in text and f"_k.{kernel} = {kernel}\n" in text
    assert "def matmul_3d(" not in text and "def argmax_mask(" not in text
    assert "def embed(E, idx):" in text  # the public function
    assert "def _value_and_grad_f(E, idx" in text  # the generated one, renamed
    assert "    E    float64[6, 3]\n    idx  int64[4]\n" in text and f"adjit {adjit.__version__}" in text
    assert "pickle" not in text.replace("allow_pickle=False", "").replace("never pickle", "")
    numpy_text = compiler.export(fn, tmp_path / "embed_np.py", *example, target="numpy").read_text()
    assert "def argmax_mask(" in numpy_text and "def take_grad(" in numpy_text and "_2d" not in numpy_text


def test_hostile_names_never_appear_raw(tmp_path):
    evil_input = "x'); __import__('os').system('echo pwned') #"
    evil_name = 'f"""\nimport os\nos.remove(__file__) #'
    x = engine.var(evil_input, (3,))
    y = engine.var("y\n= 1", (3,))
    f = engine.Function([x, y], ops.sum(x * y + np.arange(3.0)), name=evil_name)
    for target in ("numpy", "cpu"):
        path = compiler.export(f, tmp_path / f"evil_{target}.py", target=target)
        text = path.read_text()
        for raw in (evil_input, evil_name, "echo pwned", "os.remove", "import os", "y\n="):
            assert raw not in text
        module = load(path)
        assert not hasattr(module, "os")
        (name,) = module.__all__
        got = getattr(module, name)(np.ones(3), np.arange(3.0))
        assert got == compiler.jit(f, target)(np.ones(3), np.arange(3.0))
    renamed = compiler.export(f, tmp_path / "renamed.py", target="numpy", name="run it'); os.remove(x) #")
    assert load(renamed).__all__ == ["run_it____os_remove_x"] and "os.remove" not in renamed.read_text()


def test_arguments_are_checked_like_jit(tmp_path):
    f = engine.trace(lambda w, idx: ops.sum(ops.take(w, idx)), Spec((None, 2)), Spec((None,), "int64"))
    module = load(compiler.export(f, tmp_path / "checked.py", target="numpy"))
    fn = compiler.jit(f, "numpy")
    w = np.arange(6.0).reshape(3, 2)
    assert module.f(w, [2, 0]) == fn(w, [2, 0])  # lists and int64 conversion
    assert module.f(w.astype(np.float32), np.array([1], np.int32)) == fn(w, [1])  # safe casts
    assert module.f(np.asfortranarray(np.ones((4, 2))), [3]) == 2.0  # any layout, a dynamic dim
    with pytest.raises(TypeError, match=r"^f: argument 'idx' has dtype float64, expected int64$"):
        module.f(w, np.array([0.5]))
    with pytest.raises(ValueError, match=r"^f: argument 'w' has shape \(3, 3\), expected \('\?', 2\)$"):
        module.f(np.ones((3, 3)), [0])
    with pytest.raises(TypeError):
        module.f(w)


def test_export_accepts_what_jit_accepts(tmp_path):
    def loss(w, x):
        return ops.sum(ops.tanh(x @ w))
    w, x = np.linspace(-1, 1, 3), np.ones((2, 3))
    grad = adjit.grad(loss, wrt=0)
    want = compiler.jit(grad, "numpy")(w, x)
    f = grad.function_for(w, x)
    forms = {
        "function": (f, ()),
        "lazy": (grad, (w, x)),
        "jitted": (compiler.jit(grad, "numpy"), (w, x)),
        "compiled": (compiler.jit(f, "numpy"), ()),
    }
    for form, (fn, args) in forms.items():
        path = compiler.export(fn, tmp_path / f"{form}.py", *args, target="numpy", name="gradient")
        np.testing.assert_array_equal(load(path).gradient(w, x), want)
    plain = load(compiler.export(lambda a, b: a * b + 1.0, tmp_path / "plain.py", 2.0, 3.0, target="numpy"))
    assert plain.f(2.0, 3.0) == 7.0 and type(plain.f(2.0, 3.0)) is float  # rank 0: a scalar, as jit returns it


def test_export_errors(tmp_path):
    f = engine.trace(lambda x: x * 2.0, 1.0)
    with pytest.raises(TypeError, match="takes no example|knows its input shapes"):
        compiler.export(f, tmp_path / "a.py", 1.0)
    with pytest.raises(TypeError, match="example arguments"):
        compiler.export(lambda x: x, tmp_path / "a.py")
    with pytest.raises(ValueError, match=r"\.py file"):
        compiler.export(f, tmp_path / "a.txt")
    with pytest.raises(ValueError, match="unknown target"):
        compiler.export(f, tmp_path / "a.py", target="tpu")
    with pytest.raises(ValueError, match="compiled for 'numpy'"):
        compiler.export(compiler.jit(f, "numpy"), tmp_path / "a.py", target="cpu")
    with pytest.raises(TypeError, match="Function or a callable"):
        compiler.export(3, tmp_path / "a.py")
    assert not list(tmp_path.iterdir())


HELPERS = '''
import math

import numba
import numpy as np

_TINY = 1e-300
_LOG2 = math.log(2.0)
_PAIR = A = (1, 2)


def _unused():
    return 0


@numba.njit(cache=True)
def _scaled(x):
    return x * _LOG2 + _TINY


@numba.njit(cache=True)
def top(x):
    n = len(_PAIR)  # a local that shadows nothing
    return _scaled(x) + n
'''


def test_helpers_are_copied_transitively_with_their_constants(tmp_path):
    path = tmp_path / "fake_helpers.py"
    path.write_text(HELPERS)
    module = load(path)
    for target in ("cpu", "numpy"):
        helpers = _Helpers(target)
        if target == "numpy":
            with pytest.raises(RuntimeError, match="needs numba"):
                _Helpers("numpy").import_module("numba", sys.modules["numba"], "test")
        helpers.need("top", module)
        text = "\n".join(sorted(helpers.imports.values())) + "\n" + "\n".join(t for _, _, t in sorted(helpers.pieces))
        assert "_unused" not in text and "_PAIR = A = (1, 2)" in text and "import math" in text
        assert text.index("_LOG2 =") < text.index("def _scaled") < text.index("def top")
        assert ("numba" in text) == (target == "cpu")  # the numpy target runs the kernels as Python
        copied = tmp_path / f"copied_{target}.py"  # a real file: numba caches only those
        copied.write_text(text)
        assert load(copied).top(1.0) == module.top(1.0)
    assert _globals_used("def g(a):\n    b = a + c\n    return [d for d in b] + e\n") == {"c", "e"}


def test_docstring_example_runs():
    assert doctest.testmod(sys.modules["adjit.compiler.export"]).failed == 0


def test_vmath_helpers_copy_with_their_intrinsics_and_overloads(tmp_path):
    from adjit.ops import vmath
    helpers = _Helpers("cpu")
    helpers.need("tanh", vmath)
    text = "\n".join(sorted(helpers.imports.values())) + "\n" + "\n\n".join(t for _, _, t in sorted(helpers.pieces))
    assert "@overload(_consts)" in text and "def sin(" not in text  # registrations follow, the rest stays
    (tmp_path / "vm.py").write_text(text)
    copied = load(tmp_path / "vm.py")
    for x in (0.3, -2.5, 40.0):
        assert copied.tanh(x) == vmath.tanh(x)
    with pytest.raises(RuntimeError, match="needs numba"):
        _Helpers("numpy").need("tanh", vmath)
