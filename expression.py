"""Arithmetic expressions as text -> adjit graphs, for the command line. Never ``eval``.

A tokenizer and a Pratt (precedence-climbing) parser; every error names its column.
Grammar: numbers (``2``, ``0.5``, ``1e-3``), variable names, ``+ - * / **`` with Python's
precedence (``**`` binds tighter than unary minus and groups to the right), unary ``-``/``+``,
parentheses, and calls of the functions in ``FUNCTIONS``.

>>> f = function_of("log(x1) + x1*x2 - sin(x2)", ["x1", "x2"])
>>> round(float(f(2.0, 5.0)), 6)
11.652071
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import ops
from .engine import Function, toposort, var

FUNCTIONS = {  # name: (number of arguments, graph builder)
    **{name: (1, getattr(ops, name)) for name in
       ("exp", "log", "log1p", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "sqrt", "abs")},
    "max": (2, ops.maximum), "min": (2, ops.minimum),
}
_BINARY = {"+": (10, ops.add), "-": (10, ops.sub), "*": (20, ops.mul), "/": (20, ops.div), "**": (40, ops.pow)}
_UNARY_POWER = 30  # -x**2 is -(x**2), as in Python
_TOKEN = re.compile(r"(?:(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|[-+*/(),]))")


class ExpressionError(ValueError):
    """A mistake in an expression, with the 1-based column where it is."""

    def __init__(self, message: str, column: int):
        super().__init__(f"column {column}: {message}")
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str     # "number", "name", "op" or "end"
    text: str
    column: int   # 1-based


def tokenize(text: str) -> list:
    """The tokens of ``text``, ending with an "end" token.

    >>> [t.text for t in tokenize("2*x**-1e-3")]
    ['2', '*', 'x', '**', '-', '1e-3', '']
    """
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return tokens + [Token("end", "", pos + 1)]
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = m.lastgroup
        tokens.append(Token(kind, m.group(kind), pos + 1))
        pos = m.end()


class _Parser:
    def __init__(self, text: str, variables: dict):
        self.tokens, self.k, self.variables = tokenize(text), 0, variables

    @property
    def peek(self) -> Token:
        return self.tokens[self.k]

    def take(self) -> Token:
        self.k += 1
        return self.tokens[self.k - 1]

    def expect(self, text: str) -> Token:
        tok = self.take()
        if tok.text != text:
            raise ExpressionError(f"expected {text!r}, found {_describe(tok)}", tok.column)
        return tok

    def expression(self, power: int = 0):
        left = self.prefix()
        while self.peek.kind == "op" and self.peek.text in _BINARY and _BINARY[self.peek.text][0] > power:
            op_power, build = _BINARY[self.take().text]
            right_power = op_power - 1 if op_power == _BINARY["**"][0] else op_power  # ** groups right
            left = build(left, self.expression(right_power))
        return left

    def prefix(self):
        tok = self.take()
        if tok.kind == "number":
            return float(tok.text)
        if tok.text in ("-", "+"):
            operand = self.expression(_UNARY_POWER)
            if tok.text == "+":
                return operand
            return -operand if isinstance(operand, float) else ops.neg(operand)
        if tok.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.kind == "name":
            return self.call(tok) if self.peek.text == "(" else self.variable(tok)
        raise ExpressionError(f"unexpected {_describe(tok)}", tok.column)

    def variable(self, tok: Token):
        if tok.text not in self.variables:
            if tok.text in FUNCTIONS:
                raise ExpressionError(f"{tok.text!r} is a function: call it as {tok.text}(...)", tok.column)
            raise ExpressionError(f"missing value for variable {tok.text!r} (give it with --at "
                                  f"{tok.text}=VALUE)", tok.column)
        return self.variables[tok.text]

    def call(self, tok: Token):
        if tok.text not in FUNCTIONS:
            raise ExpressionError(f"unknown function {tok.text!r} (known: {', '.join(sorted(FUNCTIONS))})",
                                  tok.column)
        arity, build = FUNCTIONS[tok.text]
        self.expect("(")
        args = [self.expression()]
        while self.peek.text == ",":
            self.take()
            args.append(self.expression())
        self.expect(")")
        if len(args) != arity:
            raise ExpressionError(f"{tok.text} takes {arity} argument{'s' * (arity > 1)}, got {len(args)}",
                                  tok.column)
        return build(*args)


def _describe(tok: Token) -> str:
    return "end of expression" if tok.kind == "end" else f"{tok.kind} {tok.text!r}"


def parse(text: str, variables: dict):
    """The graph node (or a Python float, for a constant expression) computed by ``text``, with
    its names looked up in ``variables`` (name -> node)."""
    parser = _Parser(text, variables)
    out = parser.expression()
    if parser.peek.kind != "end":
        raise ExpressionError(f"unexpected {_describe(parser.peek)}", parser.peek.column)
    return out


def function_of(text: str, names, name: str = "f") -> Function:
    """A ``Function`` of the scalar float64 inputs ``names`` (in that order) computing ``text``."""
    inputs = {n: var(n) for n in names}
    out = parse(text, inputs)
    if isinstance(out, float) or not any(n.prim == "var" for n in toposort([out])):
        raise ExpressionError("the expression uses no variable: there is nothing to differentiate", 1)
    return Function(list(inputs.values()), out, name=name)
