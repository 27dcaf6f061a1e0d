"""The pipeline end to end: name resolution by object, caching, inspection, the IR verifier."""
import importlib
import inspect
import linecache
import os
import sys

import numpy as np
import pytest

import gradc
from gradc.api import compile_gradient
from gradc.frontend.lower import lower_function
from gradc.frontend.source import parse_function
from gradc.ir import verify
from fixtures import spellings
from gradcheck import assert_gradients, numeric_gradient

rng = np.random.default_rng(1)


@pytest.mark.parametrize("name", ["aliased_module", "imported_function", "submodule_attribute",
                                  "method_chain", "uses_attributes", "keyword_arguments"])
def test_callees_resolved_by_object(name):
    function = getattr(spellings, name)
    assert_gradients(function, [rng.standard_normal((3, 3))], use_autograd=False)


def test_math_module_and_from_import():
    assert_gradients(spellings.math_and_alias, [1.3], use_autograd=False)


def test_closure_variables_are_constants():
    weight = rng.standard_normal(4)
    scaled = spellings.make_closure(weight)
    x = rng.standard_normal(4)
    ours = gradc.grad(scaled)(x)
    np.testing.assert_allclose(ours, 2 * np.sum(x * weight) * weight)


def test_generated_code_keeps_user_spelling():
    source = gradc.grad(spellings.aliased_module).source
    assert "xp.tanh(x)" in source and "SCALE" in source
    assert "numpy" not in source.replace("xp", "")


def test_second_grad_does_not_reparse(monkeypatch):
    def fresh(x):
        return np.sum(np.sin(x))
    first = gradc.grad(fresh)
    first(np.ones(2))
    calls = []
    import gradc.api as api
    monkeypatch.setattr(api, "parse_function", lambda fn: calls.append(fn) or parse_function(fn))
    second = gradc.grad(fresh)
    np.testing.assert_allclose(second(np.ones(2)), np.cos(np.ones(2)))
    assert calls == []
    assert second.source_for(np.ones(2)) == first.source_for(np.ones(2))
    assert calls == []
    gradc.grad(fresh, wrt="x")  # same options spelled by name: also cached
    assert calls == []


def test_redefinition_invalidates(tmp_path, monkeypatch):
    module = tmp_path / "redefined.py"
    module.write_text("import numpy as np\ndef f(x):\n    return np.sum(np.sin(x))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import redefined
    x = np.ones(3)
    np.testing.assert_allclose(gradc.grad(redefined.f)(x), np.cos(x))
    module.write_text("import numpy as np\ndef f(x):\n    return np.sum(np.cos(x))\n")
    linecache.checkcache(str(module))
    importlib.reload(redefined)
    np.testing.assert_allclose(gradc.grad(redefined.f)(x), -np.sin(x))
    assert "np.cos" in gradc.grad(redefined.f).source


def test_defvjp_invalidates_cached_gradients():
    def uses_fmod(x):
        return np.sum(np.fmod(x, 7.0) * x)
    with pytest.raises(gradc.NoGradientRuleError):
        gradc.grad(uses_fmod)(np.ones(2))
    from gradc.rules.registry import REGISTRY
    assert np.fmod not in REGISTRY  # (a function gradc has no rule for: the test's own rule is removed after)
    try:
        @gradc.defvjp(np.fmod)
        def fmod_vjp(g, ans, x, y):
            return g * np.ones_like(x), None  # (away from the jumps, in x; the divisor is a constant here)
        x = np.array([0.3, 1.7])
        np.testing.assert_allclose(gradc.grad(uses_fmod)(x), numeric_gradient(uses_fmod, [x], 0), rtol=1e-6)
        assert "np.ones_like" in gradc.grad(uses_fmod).source
    finally:
        REGISTRY.pop(np.fmod, None)


def test_inspection_surfaces():
    g = gradc.grad(spellings.keyword_arguments)
    assert g.__wrapped__ is spellings.keyword_arguments
    assert g.source.startswith("def dkeyword_arguments(x):")
    assert "def dkeyword_arguments(x):" in g.ir and "# backward" in g.ir
    assert gradc.source(spellings.keyword_arguments) == g.source
    assert repr(g) == "<gradc.GradFunction grad of keyword_arguments with respect to x>"
    # The generated function's source is served by linecache, so inspect and pdb can show it.
    assert inspect.getsource(g.function) .strip().startswith("def dkeyword_arguments")


def test_traceback_shows_generated_line():
    def divides(x, y):
        return np.sum(x / y)
    g = gradc.grad(divides, wrt=1)
    with pytest.raises(ValueError) as info:
        g(np.ones(3), np.ones(2))
    frames = [frame for frame in info.traceback if str(frame.path).startswith("<gradc")]
    assert frames, "the failing frame is the generated gradient"


def test_decorator_forms():
    @gradc.grad
    def f(x):
        return x * x

    @gradc.grad(wrt="y")
    def h(x, y):
        return x * y * y

    assert f(3.0) == 6.0
    assert h(2.0, 3.0) == 12.0
    assert f.__wrapped__(3.0) == 9.0


def test_value_and_grad_and_tuple_wrt():
    def f(x, y):
        return np.sum(x * y)
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    value, (dx,) = gradc.value_and_grad(f, wrt=(0,))(x, y)
    assert value == pytest.approx(np.sum(x * y))
    np.testing.assert_allclose(dx, y)
    dx, dy = gradc.grad(f, wrt=("x", "y"))(x, y)
    np.testing.assert_allclose(dy, x)
    assert dx is not y, "a gradient is never an argument itself"


CONSTANT = np.arange(3.0)
CONSTANT.setflags(write=False)


def test_array_gradients_are_fresh_writeable_arrays_of_the_arguments_kind():
    """However the generated code computes a gradient (an argument, a broadcast view, a read-only
    global, another dtype), the caller gets its own writeable array shaped like the argument."""
    def of_argument(x, y):
        return np.sum(x * y)

    def of_broadcast(x):
        return np.sum(x) * 2.0

    def of_global(x):
        return np.sum(x * CONSTANT)

    def of_int_dtype(x):
        return np.sum(x * CONSTANT.astype(np.int64))

    x, y = rng.standard_normal(3), rng.standard_normal(3)
    cases = [(gradc.grad(of_argument), (x, y), y), (gradc.grad(of_broadcast), (x,), np.full(3, 2.0)),
             (gradc.grad(of_global), (x,), CONSTANT), (gradc.grad(of_int_dtype), (x.astype(np.float32),), CONSTANT)]
    for gradient, args, expected in cases:
        for _ in range(2):  # the first call compiles, the second takes the fast path
            got = gradient(*args)
            np.testing.assert_allclose(got, expected)
            assert type(got) is np.ndarray and got.dtype == args[0].dtype and got.shape == args[0].shape
            assert got.flags.writeable and got.flags.owndata
            assert not any(np.shares_memory(got, a) for a in (*args, CONSTANT))
            got += 1.0  # never changes an argument, a constant or the next call's result


def test_float32_and_0d_and_python_floats():
    def f(x):
        return np.sum(np.tanh(x) * 2.0)
    x32 = rng.standard_normal((2, 3)).astype(np.float32)
    g32 = gradc.grad(f)(x32)
    assert g32.dtype == np.float32 and g32.shape == (2, 3)
    zero_d = gradc.grad(f)(np.array(0.5))
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == ()
    assert isinstance(gradc.grad(f)(0.5), float)


def test_gradients_for_several_float_arguments_are_floats():
    def f(x, y, n):
        return np.sin(x) * y + x * 2 + 0 * y + n  # np.float64, int and float partial derivatives
    for args in [(0.5, 1.5, 3), (0.5, 1.5, 3.0)]:
        grads = gradc.grad(f, wrt=(0, 1))(*args)
        assert type(grads) is tuple and [type(g) for g in grads] == [float, float]
        np.testing.assert_allclose(grads, [np.cos(0.5) * 1.5 + 2, np.sin(0.5)], rtol=1e-12)
    value, grads = gradc.value_and_grad(f, wrt=(0, 1))(0.5, 1.5, 3)
    assert type(value) in (float, np.float64) and [type(g) for g in grads] == [float, float]
    assert [type(g) for g in gradc.grad(f, wrt=(0, 2))(0.5, 1.5, 3.0)] == [float, float]


def test_keyword_call_of_gradient():
    def f(x, scale=2.0):
        return np.sum(x * scale)
    np.testing.assert_allclose(gradc.grad(f)(np.ones(2), scale=3.0), [3.0, 3.0])
    np.testing.assert_allclose(gradc.grad(f)(x=np.ones(2)), [2.0, 2.0])


def _module_functions(module):
    for name, obj in vars(module).items():
        if inspect.isfunction(obj) and obj.__module__ == module.__name__:
            yield name, obj


def test_verifier_accepts_every_lowered_function_in_the_suite():
    """Lower every function defined in the test modules and fixtures; the IR must verify."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder, prefix in ((here, ""), (os.path.join(here, "fixtures"), "fixtures.")):
        for file in sorted(os.listdir(folder)):  # all of them, also when this file runs alone
            if file.endswith(".py") and (file.startswith("test_") or prefix) and file != "__init__.py":
                try:
                    importlib.import_module(prefix + file[:-3])
                except pytest.skip.Exception:
                    pass  # a module of optional extras that are not installed
    checked = 0
    for module_name in list(sys.modules):
        module = sys.modules[module_name]
        path = getattr(module, "__file__", "") or ""
        if "/tests/" not in path:
            continue
        for name, function in _module_functions(module):
            if name.startswith("test_") or name.startswith("_"):
                continue
            try:
                primal = lower_function(parse_function(function))
            except gradc.GradcError:
                continue  # refused functions are the subject of test_errors
            verify(primal)
            for wrt in range(len(primal.params)):
                try:
                    compiled = compile_gradient(function, (wrt,))
                except gradc.GradcError:
                    continue
                assert compiled.ir
            checked += 1
    assert checked >= 10


def _two_args(x, y):
    return np.sum(x * y) + 0.0


def test_the_fast_path_of_a_call_checks_every_kind():
    """After a call, the next call with arguments of the same kinds goes straight to the compiled
    gradient; any other call (shape, dtype, type, keywords, container) still gets the right one."""
    g = gradc.grad(_two_args, wrt=(0, 1))
    x, y = np.arange(3.0), np.ones(3)
    for _ in range(2):
        gx, gy = g(x, y)
        np.testing.assert_array_equal(gx, y)
        np.testing.assert_array_equal(gy, x)
    gx, gy = g(np.ones(4), np.full(4, 2.0))  # another shape
    assert gx.shape == (4,) and gx[0] == 2.0
    gx, gy = g(x.astype(np.float32), y.astype(np.float32))  # another dtype
    assert gx.dtype == np.float32
    gx, gy = g(2.0, 3.0)  # floats
    assert (gx, gy) == (3.0, 2.0) and type(gx) is float
    gx, gy = g(np.float64(2.0), 3.0)  # a NumPy scalar where a float was
    assert (gx, gy) == (3.0, 2.0)
    with pytest.raises(gradc.GradcError):
        g(2, 3.0)  # an integer has no gradient: refused on this path too
    gx, gy = g(x=x, y=y)  # keywords
    np.testing.assert_array_equal(gx, y)
    g(x, y)
    gx, gy = g(x, y=y)  # some of them
    np.testing.assert_array_equal(gy, x)
    with pytest.raises(TypeError):
        g(x, y, 1.0)  # one argument too many: the function's own error
    gx, gy = g(x, y)  # and back
    np.testing.assert_array_equal(gy, x)


def _product(x, y):
    return np.sum(x * y)


def _spread(x):
    return np.sum(x) * 2.0


def test_the_fast_path_hands_out_what_the_general_path_would():
    """Second and later calls take the guard's path: a gradient that is an argument is still
    copied, a broadcast view still made a fresh writeable array, float32 still float32."""
    g = gradc.grad(_product, wrt=(0, 1))
    x, y = np.arange(3.0), np.ones(3)
    for _ in range(3):
        gx, gy = g(x, y)
        assert gx is not y and gy is not x and gx.flags.writeable and gy.flags.writeable
        gx[0] = 99.0
        assert y[0] == 1.0
    h = gradc.grad(_spread)
    for dtype in (np.float64, np.float64, np.float32, np.float32):
        z = np.zeros((2, 3), dtype=dtype)
        dz = h(z)
        assert dz.dtype == dtype and dz.shape == (2, 3) and dz.flags.writeable and dz.base is None
        dz[0, 0] = 5.0
        np.testing.assert_array_equal(dz[1], 2.0)


def _sum_tanh_of_sum(x, y):
    return np.sum(np.tanh(x + y))


def _dict_loss(p, x):
    return np.sum(np.tanh(p["a"] + p["b"]) * x + p["a"] * p["c"])


def test_gradients_never_share_an_array_with_each_other_or_an_argument():
    """`d(x + y)` is one array for x and y, `d(a * c)/da` is `c`: each is handed out as its own
    array, so updating one in place changes nothing else; on every call, fast path or not."""
    rng = np.random.default_rng(0)
    g = gradc.grad(_sum_tanh_of_sum, wrt=(0, 1))
    x, y = rng.random(3), rng.random(3)
    for _ in range(3):
        dx, dy = g(x, y)
        assert not np.shares_memory(dx, dy)
        np.testing.assert_array_equal(dx, dy)
    h = gradc.grad(_dict_loss)
    p = {"a": rng.random(3), "b": rng.random(3), "c": rng.random(3)}
    c_before = p["c"].copy()
    for _ in range(3):  # (a container argument: the general path, every time)
        d = h(p, rng.random(3))
        assert not np.shares_memory(d["a"], d["b"]) and not np.shares_memory(d["c"], p["a"])
        for value in d.values():
            assert not any(np.shares_memory(value, v) for v in p.values())
        d["c"] *= 0.0  # d["c"] is p["a"]'s values: p is untouched
        d["a"] *= 0.0
        np.testing.assert_array_equal(p["c"], c_before)
        assert np.all(p["a"] != 0.0)


def loop_with_branch(x, n):
    h = x * 1.0
    for i in range(n):
        if np.sum(h) > 0.0:
            h = np.tanh(h) * x
        h[0] = h[0] * 2.0
    return np.sum(h * h)


def test_the_reverse_transform_leaves_the_primal_as_it_was():
    """The transform works on a copy (it adds tapes, counters, exported branch values): the primal
    IR lowered once serves every signature's compilation."""
    from gradc.ad.reverse import reverse
    from gradc.ir.printer import print_function
    primal = lower_function(parse_function(loop_with_branch))
    before = print_function(primal)
    reverse(primal, [0], "grad", ((3,), int))
    assert print_function(primal) == before
    g = gradc.grad(loop_with_branch)
    x = np.array([0.3, -0.2, 0.5])
    for n in (1, 2, 3):  # (three signatures' worth of calls, one primal)
        np.testing.assert_allclose(g(x, n), numeric_gradient(loop_with_branch, [x, n], 0), rtol=1e-6)
