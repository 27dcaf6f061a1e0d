"""The `gradc` command: print, check or export the generated gradient of a function.

    gradc examples/mlp.py:loss                 # gradient with respect to the first argument
    gradc examples/mlp.py:loss --wrt W1 --wrt b1
    gradc mypackage.model:loss --ir            # the SSA IR instead of Python source
    gradc examples/mlp.py:loss --primal        # the primal beside (or above) its gradient
    gradc examples/mlp.py:loss --check --args 'W1=(4,3) b1=(3,) W2=(3,2) b2=(2,) x=(5,4) y=(5,2)'
    gradc examples/mlp.py:loss --standalone dloss.py   # a module that needs only NumPy

Usage errors exit with status 2, errors in the user's code (or a failed check) with 1.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Callable, Sequence

from .api import JVPFunction, grad
from .derived import hvp
from .backend.standalone import standalone_module
from .cli_check import check_inputs, run_check
from .errors import GradcError, SourceSyntaxError
from .terminal import highlight, use_color, with_primal

__all__ = ["main"]

_EPILOG = """examples:
  gradc examples/mlp.py:loss                  gradient of loss with respect to its first argument
  gradc examples/mlp.py:loss --wrt W1 --wrt 1 with respect to W1 and the second argument
  gradc examples/mlp.py:loss --ir             print the SSA IR of the gradient
  gradc examples/mlp.py:loss --primal         the primal's numbered source beside the gradient
                                              (above it when the terminal is narrow)
  gradc examples/mlp.py:loss --color always | less -R    keep the colours through a pager
  gradc examples/mlp.py:loss --wrt W1 --wrt W2 --check \\
        --args 'W1=(4,3) b1=(3,) W2=(3,2) b2=(2,) x=(5,4) y=(5,2)'
                                              compare with finite differences on random inputs
  gradc examples/mlp.py:loss --wrt 0 --wrt 1 --standalone dloss.py
                                              write a gradient module that needs only NumPy
  python -m gradc mypackage.model:loss        a function in an importable module

--args: NAME=VALUE items separated by spaces (quote the whole SPEC). VALUE is
  (3, 4)                 a shape: a random float64 array (standard normal, --seed); () a random float
  5, 0.1                 a number, passed as it is (5 stays an int, 0.1 a float)
  array([0, 2, 1])       an array literal (integers stay integers: an index array)
  randint(5, (3,))       random integers in [0, 5) of that shape
  [(3, 4), (4,)]         a list of values; ((3, 4), 2) a tuple of them (a tuple of ints is a shape)
  {'W': (3, 4), 'b': (4,)}   a dict of values
Arguments with defaults may be left out. A list, tuple or dict argument is checked leaf by leaf,
and integers (an argument not in --wrt, an index array) stay integers.
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
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:  # (the file, or a module it imports: shown like every gradc error)
            raise SourceSyntaxError.from_python(exc) from None
        return module
    try:
        return importlib.import_module(target)
    except SyntaxError as exc:
        raise SourceSyntaxError.from_python(exc) from None


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
    """The command's arguments (`gradc --help`)."""
    parser = argparse.ArgumentParser(
        prog="gradc", description="Print the gradient gradc generates for a Python/NumPy function.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", metavar="FILE.py:FUNC", help="the function (or package.module:FUNC)")
    parser.add_argument("--wrt", action="append", metavar="NAME|INDEX",
                        help="an argument to differentiate with respect to (repeatable; default: the first)")
    parser.add_argument("--ir", action="store_true", help="print the SSA IR instead of Python source")
    parser.add_argument("--primal", action="store_true",
                        help="show the primal's numbered source beside the gradient (above it if narrow)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="syntax colour with pygments, if installed (default: auto, on a terminal)")
    parser.add_argument("--no-optimize", action="store_true", help="skip the optimization passes")
    parser.add_argument("--mode", choices=("reverse", "forward", "hvp"), default="reverse",
                        help="the gradient (reverse, default), the JVP program (forward: value and tangent) "
                             "or the Hessian-vector program (hvp: forward over reverse)")
    parser.add_argument("--check", action="store_true",
                        help="compare the gradient with finite differences at random inputs (needs --args)")
    parser.add_argument("--args", metavar="SPEC", help="the inputs for --check, e.g. 'W=(3,4) x=(4,) n=5 "
                        "idx=array([0,2]) layers=[(3,4),(4,)]' (see below)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --args (default 0)")
    parser.add_argument("--standalone", nargs="?", const="-", metavar="PATH",
                        help="write a gradient module that needs only NumPy to PATH (or print it)")
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks of errors")
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors (exit status 2) for options that do not go together."""
    if args.check and args.args is None:
        parser.error("--check needs --args, e.g. --args 'W=(3,4) x=(4,)'")
    if args.args is not None and not args.check:
        parser.error("--args is only used with --check")
    chosen = [flag for flag, on in (("--ir", args.ir), ("--check", args.check),
                                    ("--standalone", args.standalone is not None)) if on]
    if len(chosen) > 1:
        parser.error(f"{' and '.join(chosen)} cannot be combined")
    if args.mode != "reverse" and (args.check or args.standalone is not None):
        parser.error(f"--mode {args.mode} shows the program; --check and --standalone are for the gradient")


def _show(gradient, args: argparse.Namespace) -> str:
    """The text to print: the source or the IR, with the primal beside it on --primal."""
    text = gradient.ir if args.ir else gradient.source
    color = use_color(args.color) and not args.ir
    if args.primal:
        heading = "# IR of the gradient" if args.ir else "# gradient (generated by gradc)"
        return with_primal(gradient.__wrapped__, text, color, heading)
    return highlight(text, color)


def _standalone(gradient, args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Write (or print) the NumPy-only module; say where it went on standard error."""
    command = "gradc " + " ".join(a for a in (sys.argv[1:] if argv is None else argv))
    text = standalone_module(gradient, command)
    if args.standalone == "-":
        sys.stdout.write(highlight(text, use_color(args.color)))
    else:
        with open(args.standalone, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"gradc: wrote {args.standalone}", file=sys.stderr)
    return 0


def _transform(function: Callable, args: argparse.Namespace):
    """The compiled transform `--mode` names (each has `source`, `ir` and `__wrapped__`)."""
    wrt = _parse_wrt(args.wrt)
    if args.mode == "forward":
        return JVPFunction(function, wrt, optimize=not args.no_optimize)
    if args.mode == "hvp":
        return hvp(function, wrt=wrt).forward
    return grad(function, wrt=wrt, optimize=not args.no_optimize)


def _report_error(exc: BaseException) -> None:
    """Print an error compiler-style (`file:line:col: error: ...`) on standard error."""
    sys.stdout.flush()
    if isinstance(exc, GradcError):
        message = exc.render()
        message = message if exc.loc is not None else f"gradc: error: {message}"
    else:
        message = f"gradc: error: {type(exc).__name__}: {exc}"
        message += "".join(f"\n{note}" for note in getattr(exc, "__notes__", ()))
        message += "\n(run with --traceback to see the Python traceback)"
    print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status: 0, 1 for an error in the code or a failed check, 2 for usage."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    try:
        function = _resolve(args.function)
        gradient = _transform(function, args)
        if args.check:
            inputs = check_inputs(parser, function, args.args, args.seed)
            return run_check(function, gradient, inputs, args.wrt)
        if args.standalone is not None:
            return _standalone(gradient, args, argv)
        sys.stdout.write(_show(gradient, args))
        return 0
    except Exception as exc:  # the user's code or inputs; --traceback shows where
        if args.traceback:
            raise
        _report_error(exc)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
