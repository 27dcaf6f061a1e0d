"""The textual IR: what `GradFunction.ir` and `gradc --ir` print.

    def dloss(W, x):
      h = np.dot(x, W)                       # line 3
      out = np.sum(h)                        # line 4
      ...

Each value is shown by its name hint; SSA versions appear (`h.1`, `h.2`) only
where a name is assigned more than once. Ops of the backward sweep follow a
`# backward` line; structured ops print their regions indented.
"""
from __future__ import annotations

import ast
import operator

from .core import Function, Op, Region, Value, describe_value, table_key
from .effects import has_effect

__all__ = ["print_function"]

_INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
          operator.floordiv: "//", operator.mod: "%", operator.pow: "**", operator.matmul: "@",
          operator.lt: "<", operator.le: "<=", operator.gt: ">", operator.ge: ">=", operator.eq: "==",
          operator.ne: "!=", operator.is_: "is", operator.is_not: "is not", operator.and_: "&",
          operator.or_: "|", operator.xor: "^"}
_PREFIX = {operator.neg: "-", operator.pos: "+", operator.not_: "not ", operator.invert: "~"}


class _Printer:
    def __init__(self, function: Function):
        self.function = function
        self.names: dict[Value, str] = {}
        counts: dict[str, int] = {}
        values = list(function.params) + [r for op in function.walk() for r in op.results] + \
            [a for op in function.walk() for region in op.regions for a in region.args]
        for value in values:
            base = self.base(value)
            counts[base] = counts.get(base, 0) + 1
        seen: dict[str, int] = {}
        for value in values:
            base = self.base(value)
            seen[base] = seen.get(base, 0) + 1
            self.names[value] = base if counts[base] == 1 else f"{base}.{seen[base]}"

    def base(self, value: Value) -> str:
        if value.hint:
            return value.hint
        if value.adjoint_of is not None:
            return "d" + self.base(value.adjoint_of)
        receiver = value.owner.operands[0] if value.owner is not None and value.owner.operands else None
        return "%" + describe_value(value, receiver.hint if receiver is not None and not receiver.temp else None)

    def name(self, value: Value) -> str:
        if value.owner is not None and value.owner.kind == "const" and value not in self.shown_consts:
            return self.const(value.owner)
        return self.names[value]

    def const(self, op: Op) -> str:
        spelling = op.attrs.get("spelling")
        if spelling is not None:
            return ast.unparse(spelling)
        value = op.attrs["value"]
        text = getattr(value, "__name__", None) or repr(value)
        return text if len(text) <= 40 else text[:37] + "..."

    def callee(self, op: Op) -> str:
        spelling = op.attrs.get("spelling")
        if spelling is not None:
            return ast.unparse(spelling)
        callee = op.attrs["callee"]
        module = getattr(callee, "__module__", "") or ""
        name = getattr(callee, "__name__", repr(callee))
        prefix = "np." if module.startswith("numpy") or type(callee).__name__ == "ufunc" else ""
        return prefix + name

    def expression(self, op: Op) -> str:
        args = [self.name(v) for v in op.operands]
        kw = op.kwnames
        if kw:
            args = args[: len(args) - len(kw)] + [f"{k}={v}" for k, v in zip(kw, args[len(args) - len(kw):])]
        if op.kind == "call":
            callee = table_key(op.attrs["callee"])
            if callee in _INFIX and len(args) == 2 and not kw:
                return f"{args[0]} {_INFIX[callee]} {args[1]}"
            if callee in _PREFIX and len(args) == 1:
                return f"{_PREFIX[callee]}{args[0]}"
            return f"{self.callee(op)}({', '.join(args)})"
        if op.kind == "method":
            return f"{args[0]}.{op.attrs['name']}({', '.join(args[1:])})"
        if op.kind == "getattr":
            return f"{args[0]}.{op.attrs['name']}"
        if op.kind == "getitem":
            return f"{args[0]}[{args[1]}]"
        if op.kind == "tuple":
            return f"({', '.join(args)}{',' if len(args) == 1 else ''})"
        if op.kind == "list":
            return f"[{', '.join(args)}]"
        if op.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(op.attrs["keys"], args)) + "}"
        return f"{op.kind} {', '.join(args)}".rstrip()

    def region(self, region: Region, indent: str, out: list[str]) -> None:
        backward = False
        for op in region.ops:
            if op.kind == "const":
                continue
            if op.backward and not backward:
                out.append(f"{indent}# backward")
                backward = True
            lhs = ", ".join(self.names[r] for r in op.results)
            if op.kind == "boolop":
                text = f"{lhs} = {op.attrs['op']}({self.name(op.operands[0])}, ...)"
            elif op.kind in ("return", "yield"):
                text = f"{op.kind} {', '.join(self.name(v) for v in op.operands)}"
            elif has_effect(op) and not any(r in self.used for r in op.results):
                text = self.expression(op)
            else:
                text = f"{lhs} = {self.expression(op)}"
            helper = getattr(op.stmt, "origin", (None,))[0]
            line = "" if op.stmt is None else f"  # {helper}, line {op.stmt.lineno}" if helper \
                else f"  # line {op.stmt.lineno}"
            if op.attrs.get("buffer"):  # what bufferization decided (passes/bufferize.py)
                line = f"{line}  [{op.attrs['buffer']}]" if line else f"  [{op.attrs['buffer']}]"
            out.append(f"{indent}{text:<40}{line}".rstrip())
            for inner in op.regions:
                args = ", ".join(self.names[a] for a in inner.args)
                out.append(f"{indent}  region({args}):")
                self.region(inner, indent + "    ", out)

    def run(self) -> str:
        self.shown_consts: set[Value] = set()
        self.used = {v for op in self.function.walk() for v in op.operands}
        params = ", ".join(self.names[p] for p in self.function.params)
        out = [f"def {self.function.name}({params}):"]
        self.region(self.function.body, "  ", out)
        return "\n".join(out) + "\n"


def print_function(function: Function) -> str:
    """The readable text of an IR function."""
    return _Printer(function).run()
