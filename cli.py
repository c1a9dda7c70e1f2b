"""The ``adjit`` command: AD on an expression typed at the shell.

  adjit trace "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5    forward primal and reverse adjoint traces
  adjit compare "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5  symbolic, numeric, forward and reverse
  adjit demo                                                 the worked example

``--json`` prints machine-readable output. Bad input gets one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import re
import sys

from .engine import GraphError, compare
from .engine.evaltrace import evaluation_trace
from .expression import ExpressionError, function_of

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?\Z")


class UsageError(ValueError):
    """Bad command-line input; main prints it as one line and exits with 2."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage too: keep errors to one line
        raise UsageError(message)


def parse_at(items) -> dict:
    """``["x1=2,x2=5"]`` -> ``{"x1": 2.0, "x2": 5.0}``, in the order given.

    >>> parse_at(["x1=2", "x2=-1e-3"])
    {'x1': 2.0, 'x2': -0.001}
    """
    values = {}
    for item in ",".join(items).split(","):
        name, eq, text = (part.strip() for part in item.partition("="))
        if not eq:
            raise UsageError(f"--at: {item.strip()!r} is not NAME=VALUE")
        if not _NAME.match(name):
            raise UsageError(f"--at: {name!r} is not a variable name (letters, digits, _)")
        if not _NUMBER.match(text):
            raise UsageError(f"--at: the value of {name!r} is not a number: {text!r}")
        if name in values:
            raise UsageError(f"--at: {name!r} is given twice")
        values[name] = float(text)
    return values


def _function(args):
    at = parse_at(args.at) if args.at else {}
    try:
        return function_of(args.expr, list(at)), at
    except ExpressionError as err:
        raise UsageError(f"in EXPR {args.expr!r}, {err}") from None


def _print(args, text: str, data: dict) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def run_trace(args) -> int:
    f, at = _function(args)
    t = evaluation_trace(f, *at.values())
    _print(args, str(t), {"expression": args.expr, **t.to_dict()})
    return 0


def run_compare(args) -> int:
    f, at = _function(args)
    c = compare(f, at)
    _print(args, str(c), {"expression": args.expr, **c.to_dict()})
    return 0


def run_demo(args) -> int:
    from .demo import PARTS, demo
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        raise UsageError(f"demo: unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")
    return demo(args)


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="adjit", description="Automatic differentiation, step by step.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, run, help_text in (("trace", run_trace, "forward primal and reverse adjoint traces"),
                                 ("compare", run_compare, "symbolic, numeric, forward and reverse side by side")):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("expr", metavar="EXPR", help="e.g. 'log(x1) + x1*x2 - sin(x2)'")
        p.add_argument("--at", action="append", metavar="NAME=VALUE,...", help="the point, e.g. x1=2,x2=5")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(run=run)
    p = commands.add_parser("demo", help="the main job: the worked example, the methods, the compiler, training")
    p.add_argument("parts", nargs="*", metavar="PART",
                   help="run only these parts: basics (the worked example, methods, compiler) or a model "
                        "to train, e.g. mlp (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_demo)
    return parser


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); the exit code."""
    try:
        args = _parser().parse_args(argv)
        return args.run(args)
    except (UsageError, GraphError) as err:
        print(f"adjit: error: {err}", file=sys.stderr)
        return 2
