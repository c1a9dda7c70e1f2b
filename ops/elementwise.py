"""Elementwise primitives: each is one line of derivative formula plus its code and sympy forms.

Conventions at points where the derivative does not exist (documented in the README):
relu'(0) = 0, abs'(0) = 0 (sign(0)), and maximum/minimum give the whole derivative to the first
argument on a tie (one winner, as ``max``).
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine.autodiff import masked, scale_cotangent, split_masked
from ..engine.ir import Aval, GraphError, broadcast_shapes, canonical_dtype, const, is_float
from ..engine.primitive import Primitive, bind
from .rules import broadcast_to_ans, elementwise, np_dtype, same_dtype_rule, unbroadcast


def _b(name, *args, **params):
    return bind(name, *args, **params)


def _zero(like):
    return _b("zeros_like", like)


# --- linear ops: explicit rules (no multiplication by one) ---------------------------------------
elementwise("add", lambda x, y: np.add(x, y), lambda x, y, ans: (True, True),
            lambda n, a, b: f"({a} + {b})", sympy=lambda n, a, b: a + b, float_only=False)


def _neg_ct(ct):
    parts = split_masked(ct)
    return _b("neg", ct) if parts is None else masked(parts[0], _neg_ct(parts[1]), parts[2])


def _sub_jvp(primals, tangents, ans, **_):
    tx, ty = tangents
    if ty is None:
        return broadcast_to_ans(tx, ans)
    out = _b("neg", ty) if tx is None else _b("sub", tx, ty)
    return broadcast_to_ans(out, ans)


elementwise("sub", lambda x, y: np.subtract(x, y), None, lambda n, a, b: f"({a} - {b})",
            sympy=lambda n, a, b: a - b, float_only=False, jvp=_sub_jvp,
            vjp=lambda ct, p, ans, **_: [unbroadcast(ct, p[0]), unbroadcast(_neg_ct(ct), p[1])])
elementwise("neg", lambda x: np.negative(x), None, lambda n, a: f"(-{a})", sympy=lambda n, a: -a,
            float_only=False, jvp=lambda p, t, ans, **_: _b("neg", t[0]),
            vjp=lambda ct, p, ans, **_: [_neg_ct(ct)])
elementwise("mul", lambda x, y: np.multiply(x, y), lambda x, y, ans: (y, x),
            lambda n, a, b: f"({a} * {b})", sympy=lambda n, a, b: a * b, float_only=False)


def _div_jvp(primals, tangents, ans, **_):
    x, y = primals
    tx, ty = tangents
    terms = []
    if tx is not None:
        terms.append(_b("div", tx, y))
    if ty is not None:
        terms.append(_b("neg", _b("div", _b("mul", ty, ans), y)))
    out = terms[0] if len(terms) == 1 else _b("add", *terms)
    return broadcast_to_ans(out, ans)


def _div_vjp(ct, primals, ans, **_):
    x, y = primals
    cx = scale_cotangent(ct, y, "div")
    return [unbroadcast(cx, x), unbroadcast(_neg_ct(scale_cotangent(cx, ans)), y)]


elementwise("div", lambda x, y: np.true_divide(x, y), None, lambda n, a, b: f"({a} / {b})",
            sympy=lambda n, a, b: a / b, jvp=_div_jvp, vjp=_div_vjp)


def _pow_partials(x, y, ans):
    dx = _b("mul", y, _b("pow", x, _b("sub", y, 1.0)))
    zero = _b("equal", x, 0.0)
    safe_x = _b("where", zero, const(1.0, x.dtype), x)
    dy = _b("where", zero, _b("zeros_like", ans), _b("mul", ans, _b("log", safe_x)))
    return dx, dy


elementwise("pow", lambda x, y: np.power(x, y), _pow_partials, lambda n, a, b: f"({a} ** {b})",
            sympy=lambda n, a, b: a ** b)

# --- smooth unary functions: derivative in terms of x and ans ---------------------------------
_UNARY = {
    #  name      numpy       derivative                                   sympy
    "exp":     (np.exp,     lambda x, ans: ans,                           sp.exp),
    "log":     (np.log,     lambda x, ans: _b("div", 1.0, x),             sp.log),
    "log1p":   (np.log1p,   lambda x, ans: _b("div", 1.0, _b("add", x, 1.0)), lambda a: sp.log(1 + a)),
    "sin":     (np.sin,     lambda x, ans: _b("cos", x),                  sp.sin),
    "cos":     (np.cos,     lambda x, ans: _b("neg", _b("sin", x)),       sp.cos),
    "tan":     (np.tan,     lambda x, ans: _b("add", _b("mul", ans, ans), 1.0), sp.tan),
    "tanh":    (np.tanh,    lambda x, ans: _b("sub", 1.0, _b("mul", ans, ans)), sp.tanh),
    "sqrt":    (np.sqrt,    lambda x, ans: _b("div", 0.5, ans),           sp.sqrt),
    "sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)),
                lambda x, ans: _b("mul", ans, _b("sub", 1.0, ans)),       lambda a: 1 / (1 + sp.exp(-a))),
    "abs":     (np.abs,     lambda x, ans: _b("sign", x),                 sp.Abs),
}


def _unary(name, fn, deriv, sym):
    elementwise(name, lambda x: fn(x), lambda x, ans: (deriv(x, ans),), _SCALAR[name],
                array_code=_ARRAY.get(name), sympy=lambda n, a: sym(a), target_scalar={"cuda": _CUDA[name]})


# One element (fused cpu loops): the branch-free functions of ops/vmath.py, which LLVM vectorizes
# (a per-element libm call does not). Whole arrays (numpy target): numpy's ufuncs.
_VMATH = ("exp", "log", "log1p", "sin", "cos", "tan", "tanh", "sigmoid")
_SCALAR = {name: (lambda f: lambda n, a: f"_m.{f}({a})")(name) for name in _VMATH}
_SCALAR.update({"sqrt": lambda n, a: f"np.sqrt({a})", "abs": lambda n, a: f"np.abs({a})"})
_ARRAY = {name: (lambda f: lambda n, a: f"np.{f}({a})")(name) for name in _VMATH if name != "sigmoid"}
_ARRAY["sigmoid"] = lambda n, a: f"({_one(n)} / ({_one(n)} + np.exp(-{a})))"


def _one(n):
    return f"{np_dtype(n.dtype)}(1.0)"


# One element in a cuda kernel: numba.cuda lowers the math module to CUDA's libdevice (a float32
# argument gets the float32 function) but has no numpy ufuncs for these.
_CUDA = {name: (lambda f: lambda n, a: f"math.{f}({a})")(name) for name in _VMATH + ("sqrt",) if name != "sigmoid"}
_CUDA["sigmoid"] = lambda n, a: f"({_one(n)} / ({_one(n)} + math.exp(-{a})))"
_CUDA["abs"] = lambda n, a: f"math.fabs({a})"


for _name, (_fn, _deriv, _sym) in _UNARY.items():
    _unary(_name, _fn, _deriv, _sym)

# --- piecewise ops: derivatives are selections, not products (NaN-safe) ------------------------


def _select_jvp(cond_of):
    def jvp(primals, tangents, ans, **_):
        c = cond_of(*primals)
        tx = tangents[0]
        ty = tangents[1] if len(tangents) > 1 else None
        tx = _zero(ans) if tx is None else broadcast_to_ans(tx, ans)
        ty = _zero(ans) if ty is None else broadcast_to_ans(ty, ans)
        return _b("where", c, tx, ty)
    return jvp


def _select_vjp(cond_of):
    def vjp(ct, primals, ans, **_):
        c = cond_of(*primals)
        cts = [unbroadcast(masked(c, ct, True), primals[0])]
        if len(primals) > 1:
            cts.append(unbroadcast(masked(c, ct, False), primals[1]))
        return cts
    return vjp


def _relu_cond(x):
    return _b("greater", x, 0.0)


elementwise("relu", lambda x: np.maximum(x, 0), None,
            lambda n, a: f"np.maximum({a}, {np_dtype(n.dtype)}(0))", sympy=lambda n, a: sp.Max(a, 0),
            jvp=_select_jvp(_relu_cond), vjp=_select_vjp(_relu_cond))
for _name, _np, _cond, _sym in (("maximum", np.maximum, lambda x, y: _b("greater_equal", x, y), sp.Max),
                                ("minimum", np.minimum, lambda x, y: _b("less_equal", x, y), sp.Min)):
    elementwise(_name, (lambda f: lambda x, y: f(x, y))(_np), None,
                (lambda f: lambda n, a, b: f"np.{f}({a}, {b})")(_name),
                sympy=(lambda s: lambda n, a, b: s(a, b))(_sym), float_only=False,
                jvp=_select_jvp(_cond), vjp=_select_vjp(_cond))


def _where_rule(c, x, y):
    if c.dtype != "bool":
        raise GraphError(f"where: the condition must be bool, got {c.dtype}")
    if x.dtype != y.dtype:
        raise GraphError(f"where: branch dtypes {x.dtype} and {y.dtype} differ")
    return Aval(broadcast_shapes("where", c.shape, x.shape, y.shape), x.dtype)


def _where_jvp(primals, tangents, ans, **_):
    c = primals[0]
    tx = _zero(ans) if tangents[1] is None else broadcast_to_ans(tangents[1], ans)
    ty = _zero(ans) if tangents[2] is None else broadcast_to_ans(tangents[2], ans)
    return _b("where", c, tx, ty)


def _where_vjp(ct, primals, ans, **_):
    c, x, y = primals
    return [None, unbroadcast(masked(c, ct, True), x), unbroadcast(masked(c, ct, False), y)]


def _where_sympy(n, c, a, b):
    return sp.Piecewise((a, c), (b, True))


Primitive("where", _where_rule, lambda c, x, y: np.where(c, x, y), jvp=_where_jvp, vjp=_where_vjp,
          kind="elementwise", scalar=lambda n, c, a, b: f"_m.select({c}, {a}, {b})",
          array_code=lambda n, c, a, b: f"np.where({c}, {a}, {b})", to_sympy=_where_sympy,
          target_scalar={"cuda": lambda n, c, a, b: f"({a} if {c} else {b})"})

# --- comparisons and other ops with zero derivative --------------------------------------------
_COMPARE = {"less": ("<", np.less, sp.Lt), "less_equal": ("<=", np.less_equal, sp.Le),
            "greater": (">", np.greater, sp.Gt), "greater_equal": (">=", np.greater_equal, sp.Ge),
            "equal": ("==", np.equal, sp.Eq), "not_equal": ("!=", np.not_equal, sp.Ne)}
for _name, (_sym_op, _np, _sym) in _COMPARE.items():
    elementwise(_name, (lambda f: lambda x, y: f(x, y))(_np), None,
                (lambda o: lambda n, a, b: f"({a} {o} {b})")(_sym_op),
                sympy=(lambda s: lambda n, a, b: s(a, b))(_sym), float_only=False, out_dtype="bool",
                differentiable=False)


elementwise("logical_not", lambda x: np.logical_not(x), None, lambda n, a: f"(not {a})",
            array_code=lambda n, a: f"np.logical_not({a})", sympy=lambda n, a: sp.Not(a),
            float_only=False, differentiable=False)
elementwise("sign", lambda x: np.sign(x), None, lambda n, a: f"np.sign({a})",
            sympy=lambda n, a: sp.sign(a), differentiable=False,
            target_scalar={"cuda": lambda n, a: f"({_one(n)} if {a} > 0 else -{_one(n)} if {a} < 0 else {a})"})

for _name, _value in (("zeros_like", 0), ("ones_like", 1)):
    Primitive(_name, lambda x: Aval(x.shape, x.dtype), (lambda v: lambda x: np.full_like(x, v))(_value),
              kind="elementwise", differentiable=False,
              scalar=(lambda v: lambda n, a: f"{np_dtype(n.dtype)}({v})")(_value),
              array_code=(lambda f: lambda n, a: f"np.{f}({a})")(_name),
              to_sympy=(lambda v: lambda n, a: sp.Integer(v))(_value))

Primitive("stop_gradient", lambda x: Aval(x.shape, x.dtype), lambda x: np.array(x, copy=True),
          kind="elementwise", differentiable=False, scalar=lambda n, a: a,
          array_code=lambda n, a: f"{a}.copy()", to_sympy=lambda n, a: a)


def _broadcast_like_rule(x, like):
    return Aval(broadcast_shapes("broadcast_like", x.shape, like.shape), x.dtype)


Primitive("broadcast_like", _broadcast_like_rule,
          lambda x, like: np.broadcast_to(x, np.broadcast_shapes(x.shape, like.shape)).copy(),
          jvp=lambda p, t, ans, **_: None if t[0] is None else _b("broadcast_like", t[0], p[1]),
          vjp=lambda ct, p, ans, **_: [unbroadcast(ct, p[0]), None],
          kind="elementwise", scalar=lambda n, a, like: a,
          array_code=lambda n, a, like: f"np.broadcast_to({a}, np.broadcast_shapes({a}.shape, {like}.shape))",
          to_sympy=lambda n, a, like: a)


def _convert_rule(x, dtype):
    return Aval(x.shape, canonical_dtype(dtype))


def _convert_jvp(primals, tangents, ans, dtype):
    return _b("convert", tangents[0], dtype=dtype) if is_float(dtype) else None


def _convert_vjp(ct, primals, ans, dtype):
    x = primals[0]
    return [_b("convert", ct, dtype=x.dtype) if is_float(x.dtype) else None]


Primitive("convert", _convert_rule, lambda x, dtype: np.asarray(x).astype(dtype),
          jvp=_convert_jvp, vjp=_convert_vjp, kind="elementwise",
          scalar=lambda n, a: f"{np_dtype(n.dtype)}({a})",
          array_code=lambda n, a: f"{a}.astype({np_dtype(n.dtype)})", to_sympy=lambda n, a: a)
