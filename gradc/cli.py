"""The `gradc` command: print the generated gradient of a function.

    gradc examples/mlp.py:loss                 # gradient with respect to the first argument
    gradc examples/mlp.py:loss --wrt W1 --wrt b1
    gradc mypackage.model:loss --ir            # the SSA IR instead of Python source
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Callable, Sequence

from .api import grad
from .errors import GradcError

__all__ = ["main"]

_EPILOG = """examples:
  gradc examples/mlp.py:loss                  gradient of loss with respect to its first argument
  gradc examples/mlp.py:loss --wrt W1 --wrt 1 with respect to W1 and the second argument
  gradc examples/mlp.py:loss --ir             print the SSA IR of the gradient
  python -m gradc mypackage.model:loss        a function in an importable module
"""


def _load_module(target: str):
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = os.path.abspath(target)
        if not os.path.exists(path):
            raise GradcError(f"{target}: no such file")
        name = "_gradc_cli_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # so inspect can find the source of its functions
        sys.path.insert(0, os.path.dirname(path))
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)


def _resolve(spec: str) -> Callable:
    if ":" not in spec:
        raise GradcError(f"{spec}: expected FILE.py:FUNCTION or package.module:FUNCTION")
    target, _, qualname = spec.rpartition(":")
    obj = _load_module(target)
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise GradcError(f"{target} has no function {qualname!r}")
        obj = getattr(obj, part)
    return getattr(obj, "__wrapped__", obj) if hasattr(obj, "source") else obj


def _parse_wrt(values: list[str] | None):
    if not values:
        return 0
    items = [int(v) if v.lstrip("-").isdigit() else v for v in values]
    return items[0] if len(items) == 1 else tuple(items)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradc", description="Print the gradient gradc generates for a Python/NumPy function.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", metavar="FILE.py:FUNC", help="the function (or package.module:FUNC)")
    parser.add_argument("--wrt", action="append", metavar="NAME|INDEX",
                        help="an argument to differentiate with respect to (repeatable; default: the first)")
    parser.add_argument("--ir", action="store_true", help="print the SSA IR instead of Python source")
    parser.add_argument("--no-optimize", action="store_true", help="skip the optimization passes")
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks of errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        function = _resolve(args.function)
        gradient = grad(function, wrt=_parse_wrt(args.wrt), optimize=not args.no_optimize)
        sys.stdout.write(gradient.ir if args.ir else gradient.source)
        return 0
    except GradcError as exc:
        if args.traceback:
            raise
        message = exc.render()
        if exc.loc is None:
            message = f"gradc: error: {message}"
        print(message, file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
