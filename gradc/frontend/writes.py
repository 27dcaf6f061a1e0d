"""Which parameters a helper of the user's that gradc could not inline may write into.

A helper gradc inlines is followed statement by statement (`objects.py`); one it cannot inline
(a construct gradc does not lower) is called as it is, and a write into an array it is passed
would change the caller's array behind gradc's back: the backward pass would read the changed
values. This reads the helper's source for the writes Python code makes into its parameters,
through names bound to them or to views of them (`q = p[1:]`, `for row in p`):

    p[i] = v     p[1:] += v     p += v     p.fill(0.0)     np.copyto(p, v)     f(x, out=p)

A write made through another function the helper calls is not seen (as for any callee gradc
does not know, see `ir/effects.py`).
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Callable

import numpy as np

from ..ir.effects import effect_of_method, writes_into

__all__ = ["parameters_written"]


def parameters_written(fn: Callable) -> set[str] | None:
    """The names of `fn`'s parameters its body may write into; None where its source is not found."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) else None
    if node is None:
        return None
    args = node.args
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    reaches = _reaching_names(node, params)
    written: set[str] = set()
    for sub in ast.walk(node):
        for target in _written_targets(sub, fn):
            root = _root_name(target)
            if root is not None:
                written |= reaches.get(root, set())
    return written


def _reaching_names(node: ast.AST, params: list[str]) -> dict[str, set[str]]:
    """Each name that may refer to (a view of) a parameter's memory → those parameters."""
    reaches = {p: {p} for p in params}
    changed = True
    while changed:
        changed = False
        for sub in ast.walk(node):
            pairs = []
            if isinstance(sub, (ast.Assign, ast.AnnAssign)) and sub.value is not None:
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                pairs = [(t, sub.value) for t in targets]
            elif isinstance(sub, (ast.For, ast.AsyncFor)):
                pairs = [(sub.target, sub.iter)]
            elif isinstance(sub, ast.NamedExpr):
                pairs = [(sub.target, sub.value)]
            for target, value in pairs:
                sources = set().union(*(reaches.get(n, set()) for n in _names_in(value)))
                for name in _names_in(target):
                    if not sources <= reaches.get(name, set()):
                        reaches.setdefault(name, set()).update(sources)
                        changed = True
    return reaches


def _written_targets(node: ast.AST, fn: Callable) -> list[ast.expr]:
    """The expressions `node` writes into in place."""
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        found = [t for t in targets if isinstance(t, (ast.Subscript, ast.Attribute))]
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            found.append(node.target)  # (`p += v` writes into an array)
        return found
    if not isinstance(node, ast.Call):
        return []
    found = [k.value for k in node.keywords if k.arg == "out"]
    func = node.func
    if isinstance(func, ast.Attribute) and effect_of_method(func.attr).writes:
        found.append(func.value)  # (`p.fill(0.0)`, `p.sort()`)
    callee = _numpy_callee(func, fn)
    if callee is not None:
        found += [node.args[k] for k in writes_into(callee, len(node.args)) if k < len(node.args)]
    return found


def _numpy_callee(func: ast.expr, fn: Callable) -> object | None:
    """The NumPy function `np.copyto` denotes in `fn`'s module, if it is one."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    obj = getattr(fn, "__globals__", {}).get(func.id)
    for part in reversed(parts):
        obj = getattr(obj, part, None)
    module = getattr(obj, "__module__", None) or ""
    return obj if module.split(".")[0] == "numpy" or isinstance(obj, np.ufunc) else None


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _names_in(node: ast.expr) -> set[str]:
    """The names a value may be (or be a view of): `p`, `p[1:]`, `p.T`, `p.reshape(...)`, `(p, q)`."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        return _names_in(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _names_in(node.func.value)  # (a method's result may be its receiver or a view of it)
    if isinstance(node, ast.Call):
        return set().union(set(), *(_names_in(a) for a in node.args))  # (`np.ravel(p)`, `np.flip(p)`)
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(set(), *(_names_in(e) for e in node.elts))
    if isinstance(node, ast.IfExp):
        return _names_in(node.body) | _names_in(node.orelse)
    return set()
