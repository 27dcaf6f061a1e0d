"""Gradient checks for functions of containers (lists, tuples, dicts of arrays, nested).

`assert_tree_gradients(f, args, wrt)` compiles `gradc.grad(f, wrt=wrt)`, checks that each
gradient has exactly the structure of its argument (list stays list, tuple stays tuple, dict
keys in the same order, ndarray leaves of the same shape and dtype, Python floats stay
floats), then compares every leaf with central finite differences in float64 and, when
autograd runs the function, with autograd.

Every evaluation of `f` gets a deep copy of the arguments: functions that write into arrays
must not leak a perturbation (or a write) into the next evaluation. The gradient call gets a
copy too, and the caller's arguments are checked to be untouched by it.
"""
from __future__ import annotations

import contextlib
import copy
import sys

import numpy as np

import gradc

try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # autograd is an optional oracle
    autograd = anp = None


# -- trees ------------------------------------------------------------------------------------

def tree_leaves(tree, path=()):
    """[(path, leaf)] in order; a path is the tuple of keys/indices leading to the leaf."""
    if type(tree) is dict:
        return [item for key, value in tree.items() for item in tree_leaves(value, path + (key,))]
    if type(tree) in (list, tuple):
        return [item for i, value in enumerate(tree) for item in tree_leaves(value, path + (i,))]
    return [(path, tree)]


def tree_get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def tree_replace(tree, path, leaf):
    """A copy of `tree` (same container types) with the leaf at `path` replaced."""
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if type(tree) is dict:
        new = dict(tree)
        new[head] = tree_replace(tree[head], rest, leaf)
        return new
    items = list(tree)
    items[head] = tree_replace(tree[head], rest, leaf)
    return type(tree)(items)


def assert_same_structure(grad, like, where="gradient"):
    """`grad` has the container types, keys (in order), shapes and dtypes of `like`."""
    if type(like) is dict:
        assert type(grad) is dict, f"{where}: {type(grad).__name__}, expected dict"
        assert list(grad) == list(like), f"{where}: keys {list(grad)}, expected {list(like)}"
        for key in like:
            assert_same_structure(grad[key], like[key], f"{where}[{key!r}]")
    elif type(like) in (list, tuple):
        assert type(grad) is type(like), f"{where}: {type(grad).__name__}, expected {type(like).__name__}"
        assert len(grad) == len(like), f"{where}: {len(grad)} items, expected {len(like)}"
        for i, (g, x) in enumerate(zip(grad, like)):
            assert_same_structure(g, x, f"{where}[{i}]")
    elif isinstance(like, np.ndarray):
        assert isinstance(grad, np.ndarray), f"{where}: {type(grad).__name__}, expected ndarray"
        assert grad.shape == like.shape, f"{where}: shape {grad.shape}, expected {like.shape}"
        assert grad.dtype == like.dtype, f"{where}: dtype {grad.dtype}, expected {like.dtype}"
    else:
        assert type(grad) is float, f"{where}: {type(grad).__name__}, expected float"


def assert_trees_equal(a, b):
    """Same structure and bitwise-equal leaves (used to check arguments were not modified)."""
    assert_same_structure(a, b, "argument")
    for (path, x), (_, y) in zip(tree_leaves(a), tree_leaves(b)):
        np.testing.assert_array_equal(x, y, err_msg=f"argument leaf {path} was modified")


# -- oracles ----------------------------------------------------------------------------------

def numeric_tree_gradient(f, args, index, eps=1e-6):
    """Central differences (float64) of scalar `f(*args)` for every leaf of `args[index]`:
    a dict {path: gradient of that leaf}."""
    out = {}
    for path, leaf in tree_leaves(args[index]):
        flat = np.array(leaf, dtype=np.float64).ravel()
        grad = np.empty_like(flat)
        for k in range(flat.size):
            values = []
            for step in (eps, -eps):
                moved = flat.copy()
                moved[k] += step
                new_leaf = moved.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else float(moved[0])
                call_args = copy.deepcopy(list(args))
                call_args[index] = tree_replace(call_args[index], path, new_leaf)
                values.append(float(f(*call_args)))
            grad[k] = (values[0] - values[1]) / (2 * eps)
        out[path] = grad.reshape(np.shape(leaf))
    return out


@contextlib.contextmanager
def numpy_is_autograd(modules):
    """Rebind every name bound to the numpy module in `modules` to autograd.numpy (helpers in
    other modules must see autograd too), restoring them afterwards."""
    saved = []
    try:
        for module in modules:
            for name, value in list(vars(module).items()):
                if value is np:
                    saved.append((module, name))
                    setattr(module, name, anp)
        yield
    finally:
        for module, name in saved:
            setattr(module, name, np)


def autograd_gradients(f, args, indices, modules=()):
    """autograd's gradients (a tuple), or None when autograd is missing or cannot run `f`."""
    if autograd is None:
        return None
    mods = {sys.modules[f.__module__], *modules}
    call_args = copy.deepcopy(list(args))
    try:
        with numpy_is_autograd(mods):
            return autograd.grad(f, argnum=indices)(*call_args)
    except Exception:  # autograd does not support this function (in-place writes, ...)
        return None


# -- the check --------------------------------------------------------------------------------

def assert_tree_gradients(f, args, wrt=0, rtol=1e-5, atol=1e-6, modules=(), require_autograd=False,
                          use_autograd=True, mutates_arguments=False):
    """gradc's gradient of `f` at `args` has the structure of each `wrt` argument and equals
    finite differences (and autograd when it runs). Returns gradc's gradients (a tuple).
    `mutates_arguments`: f itself writes into an argument (so the gradient call may too)."""
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    call_args = copy.deepcopy(list(args))
    ours = gradc.grad(f, wrt=indices)(*call_args)
    if not mutates_arguments:  # f leaves its arguments alone, so must its gradient
        for original, passed in zip(args, call_args):
            assert_trees_equal(passed, original)
    assert isinstance(ours, tuple) and len(ours) == len(indices)
    for index, grad in zip(indices, ours):
        assert_same_structure(grad, args[index], f"gradient of argument {index}")
        expected = numeric_tree_gradient(f, args, index)
        for path, _ in tree_leaves(args[index]):
            np.testing.assert_allclose(tree_get(grad, path), expected[path], rtol=rtol, atol=atol,
                                       err_msg=f"finite differences, argument {index}, leaf {path}")
    if use_autograd:
        theirs = autograd_gradients(f, args, indices, modules)
        assert theirs is not None or not require_autograd or autograd is None, "autograd could not run f"
        if theirs is not None:
            for index, grad, expected in zip(indices, ours, theirs):
                for path, _ in tree_leaves(args[index]):
                    np.testing.assert_allclose(tree_get(grad, path), tree_get(expected, path),
                                               rtol=1e-7, atol=1e-10,
                                               err_msg=f"autograd, argument {index}, leaf {path}")
    return ours
