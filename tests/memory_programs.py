"""Random NumPy programs that fill, update and alias arrays in place, for differential testing.

gradc's IR has value semantics while the code it generates, like Python, shares arrays: these
programs exercise where the two differ. `generate(seed_or_rng)` returns a `Program`: a module
defining `f(x, w)` (and the helpers it calls) built around one pattern, `kind`, one of `KINDS`:
equal_constructors (buffers from equal constructor calls, each filled, all read); fill_loop,
while_fill, fill_branch, aug_slice, nested_loops (a buffer filled element by element in a `for`
loop, a `while` loop, an `if` in a loop, by slice updates like `y[1:] += ...`, in nested loops);
alias_read_after_write (`t = y`, writes to one name, reads of the other); view_read_after_write
(`z = y[1:]`, `Y.T`, `np.flip(y)`, a helper returning `p[1:]`..., then a write to the base and a
read of the view, or the other way round); tape_of_updated_buffer (a buffer updated in a loop
from its own values); container_of_arrays (a list, dict or tuple holding an array then written
in place); identity_helper (`def first(a, b): return a`, helpers writing into their argument);
copy_helper_twice (`def fresh(p): return p.copy()` called twice); recursion (value-dependent,
with an early return, of a scalar and of an array); scalar_aug (`s = x[1]; s += 1.0`: a scalar,
not a view); scopes (comprehensions, a generator in `sum`, a dict comprehension, lambdas,
`functools.reduce` and nested functions reading a buffer before and after a write, or writing
into it); mixed (two or three of these); and runtime_alias, where which array a name denotes
depends on a run-time condition: the only kind with `must_work=False` (a GradcError is allowed).

Names, loop counts (0..4), index expressions, slices (steps, negative bounds) and the dimension
of x (1-D or 2-D) are random. Programs are smooth at their inputs (sin, cos, tanh, exp of bounded
values, sums, products) and branch on loop counters, constants, or values far from the boundary
(|w| >= 0.2 against 0), so central finite differences are meaningful.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Program", "generate", "KINDS"]


@dataclass
class Program:
    source: str  # module text: `import numpy as np`, helpers, `def f(x, w)`
    kind: str
    wrt: tuple  # argument indices to differentiate: (0,), (1,) or (0, 1)
    must_work: bool  # False: a gradc.GradcError is an acceptable answer
    x_shape: tuple
    w_size: int | None  # None: w is a Python float; else w is a 1-D array of this length
    arg_seed: int

    def args(self):
        """Fresh float64 inputs `(x, w)`, equal on every call; every element of w has |w| >= 0.2."""
        rng = np.random.default_rng(self.arg_seed)
        x = rng.uniform(-1.0, 1.0, self.x_shape)
        w = rng.uniform(0.2, 1.0, self.w_size or 1) * rng.choice([-1.0, 1.0], self.w_size or 1)
        return x, (float(w[0]) if self.w_size is None else w)


# Building blocks; {a}, {b} are array or element expressions, {w} a scalar expression of w.
UNARY = ["np.sin({a})", "np.tanh({a})", "np.cos({a}) * 0.5", "np.tanh({a}) * {a}",
         "np.exp(np.tanh({a})) * 0.3", "{a} * 0.5"]
WITH_W = ["{u}", "{u} * {w}", "{u} + {w}", "{u} - {w} * 0.5"]
SELF = ["np.sin({a}) * {b}", "np.tanh({a} + {b})", "np.cos({a}) * {b}", "np.tanh({a}) * {b} + {w} * 0.1"]
READS = ["np.sum({a} * {a})", "np.sum(np.sin({a}))", "np.mean({a}) * 2.0", "np.sum({a}) * {w}",
         "np.sum(np.tanh({a}) * {a})"]
# Index expressions of a loop counter {i} along an axis of length {n} (kept when in range).
INDEX = ["{i}", "{i} + 1", "-1 - {i}", "{i} - 1", "2 * {i}", "({i} + 2) % {n}", "{n} - 1 - {i}"]
CONST_INDEX = ["0", "1", "2", "-1", "-2"]
SLICES = {1: ["1:", ":-1", "::2", "1::2", "::-1", "-3:", "1:-1", "::-2", "2:", ":3"],
          2: ["1:, ::2", "::2, 1:", ":, ::-1", "1:", "::-1, 0", "-2:, :2", "1, ::2", ":, -1"]}
# Slice updates reading the buffer's own, overlapping elements.
SHIFTS = {1: ["{y}[1:] += {y}[:-1] * 0.5", "{y}[:-1] -= np.tanh({y}[1:]) * 0.3",
              "{y}[1:] = {y}[:-1] * {w}", "{y}[1:] *= np.cos({y}[:-1])"],
          2: ["{y}[1:] += {y}[:-1] * 0.5", "{y}[:, 1:] *= np.cos({y}[:, :-1])",
              "{y}[:, :-1] = {y}[:, 1:] * {w}"]}
CTORS = ["np.zeros_like({s})", "np.ones_like({s})", "{s}.copy()", "np.zeros({s}.shape)",
         "np.ones({s}.shape)", "{s} * 1.0", "np.zeros({shape})"]
COPY_BODIES = ["return {p}.copy()", "return np.zeros_like({p})", "return {p} * 1.0", "return np.ones_like({p})"]
VIEWS = {1: ["{y}[1:]", "{y}[::-1]", "np.flip({y})", "{y}[::2]", "{y}[:-1]", "{y}[-3:]"],
         2: ["{y}[1]", "{y}.T", "{y}[:, 0]", "{y}[1:, ::2]", "np.flip({y})", "{y}[::-1]", "{y}[-1]"]}
OPS = ["=", "+=", "*=", "-="]


class _Builder:
    """The function under construction: body lines, result terms, helpers and names in use."""

    def __init__(self, rng, shape, w_size):
        self.rng, self.shape, self.dim, self.w_size = rng, shape, len(shape), w_size
        self.lines, self.results, self.helpers = [], [], []
        self.arrays = ["x"]  # arrays of x's shape a pattern may read (later ones: earlier buffers)
        self.taken = {"x", "w", "np", "f"}
        self.must_work = True

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p):
        return bool(self.rng.random() < p)

    def name(self, *bases):
        """A fresh name: one of `bases`, numbered if taken."""
        base = self.pick(bases)
        name = next(n for n in [base] + [f"{base}{k}" for k in range(2, 99)] if n not in self.taken)
        self.taken.add(name)
        return name

    def emit(self, depth, *lines):
        self.lines += ["    " * depth + line for line in lines]

    def helper(self, bases, params, *body):
        """Define a module-level helper function ("{name}" in its body: itself); return its name."""
        name = self.name(*bases)
        text = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body)
        self.helpers.append(text.replace("{name}", name))
        return name

    # -- expressions --------------------------------------------------------------------
    def w(self):
        """A scalar expression of w."""
        return self.pick(["w", "w * 0.5", "np.sin(w)"] if self.w_size is None
                         else ["w[0]", "w[-1]", "np.mean(w)", "w[1] * 0.5"])

    def w_condition(self):
        """A test of the sign of w: true or false with a margin of at least 0.2."""
        return self.pick(["w > 0.0", "w < 0.0"] if self.w_size is None else ["w[0] > 0.0", "w[-1] < 0.0"])

    def x_scalar(self):
        return self.pick(["x[1]", "x[-1]", "np.mean(x)"] if self.dim == 1 else ["x[1, 2]", "x[-1, 0]", "np.mean(x)"])

    def expr(self, a):
        return self.pick(WITH_W).format(u=self.pick(UNARY).format(a=a), w=self.w())

    def src(self):
        return self.pick(self.arrays)

    def ctor(self, src):
        return self.pick(CTORS).format(s=src, shape=self.shape[0] if self.dim == 1 else self.shape)

    def copy_helper(self, src):
        """A call of a new helper returning a fresh array like its argument."""
        p = self.pick(["p", "a", "arr"])
        return f"{self.helper(('fresh', 'clone', 'mk', 'new_buffer'), p, self.pick(COPY_BODIES).format(p=p))}({src})"

    def result(self, array, now=False):
        """Add a read of `array` to the return value: at the end, or (now) at this point."""
        term = self.pick(READS).format(a=array, w=self.w())
        if now:
            part = self.name("s", "part", "r", "before")
            self.emit(1, f"{part} = {term}")
            term = part
        self.results.append(term)

    # -- loops, indices, writes ---------------------------------------------------------
    def count(self):
        """A loop count, 0..4 (0 rarely), at most the shortest axis of x."""
        return min(self.pick([0, 1, 2, 2, 3, 3, 4, 4]), *self.shape)

    def loop(self, depth):
        """Emit a `for` header over 0..4 values; return the counter's name and its values."""
        i, k = self.name("i", "j", "k", "t", "step"), self.count()
        header, values = self.pick([(f"range({k})", range(k)), (f"range(1, {k})", range(1, k)),
                                    (f"reversed(range({k}))", range(k))])
        self.emit(depth, f"for {i} in {header}:")
        return i, list(values)

    def index(self, i, values, n):
        """An index along an axis of length n: of counter i over `values` (None: a constant)."""
        if i is None:
            return self.pick(CONST_INDEX)
        ok = [t for t in INDEX if all(-n <= eval(t.format(i=v, n=n)) < n for v in values)]
        return self.pick(ok).format(i=i, n=n)

    def elem_write(self, y, src, i, values, depth, op=None, self_read=False):
        """`y[I] op E(src[J])`, for a 2-D y of a row, column or element; with `self_read` the
        right side combines the target's old value and src[J] (src is then y itself)."""
        if self.dim == 1:
            target, read = (f"{a}[{self.index(i, values, self.shape[0])}]" for a in (y, src))
        else:
            (rows, cols), form = self.shape, self.pick(["[{r}]", "[{r}, :]", "[:, {c}]", "[{r}, {k}]"])
            target, read = (a + form.format(r=self.index(i, values, rows), c=self.index(i, values, cols),
                                            k=self.pick(CONST_INDEX)) for a in (y, src))
        rhs = self.pick(SELF).format(a=target, b=read, w=self.w()) if self_read else self.expr(read)
        self.emit(depth, f"{target} {op or self.pick(OPS)} {rhs}")

    def slice_write(self, y, src, depth, self_read=False, in_loop=False):
        """`y[s] op E(src[s])`, `y[s] op w`, `y[s] *= y[s]` (not in loops: it would grow) or a shift."""
        form = self.pick(["shift"] if self_read else ["expr", "scalar", "shift"] + ["square"] * (not in_loop))
        s = self.pick(SLICES[self.dim])
        self.emit(depth, {"expr": f"{y}[{s}] {self.pick(OPS)} {self.expr(f'{src}[{s}]')}",
                          "scalar": f"{y}[{s}] {self.pick(OPS)} {self.w()}",
                          "square": f"{y}[{s}] *= {y}[{s}]",
                          "shift": self.pick(SHIFTS[self.dim]).format(y=y, w=self.w())}[form])

    def write(self, y, src, depth, i=None, values=None):
        """One in-place write to y: of an element (row, column) or of a slice."""
        if self.chance(0.6):
            self.elem_write(y, src, i, values, depth)
        else:
            self.slice_write(y, src, depth, in_loop=i is not None)

    def fill(self, y, src, depth, style=None):
        """Fill buffer y from src in one of these styles (the fill_* and *_loops patterns)."""
        style = style or self.pick(["for", "while", "branch", "slices", "nested", "statement"])
        if style == "for":
            i, values = self.loop(depth)
            for _ in range(self.pick([1, 1, 2])):
                self.elem_write(y, src, i, values, depth + 1)
        elif style == "while":
            i, k = self.name("i", "k", "n", "count"), self.count()
            self.emit(depth, f"{i} = 0", f"while {i} < {k}:")
            self.elem_write(y, src, i, list(range(k)), depth + 1)
            self.emit(depth + 1, self.pick([f"{i} += 1", f"{i} = {i} + 1"]))
        elif style == "branch" and self.chance(0.3):  # a value condition with a large margin
            bound = int(np.prod(self.shape)) + 5  # above sum(x * x): |x| < 1
            self.emit(depth, f"if {self.pick([f'np.sum(x * x) < {bound}.0', 'np.mean(x) > 2.0', self.w_condition()])}:")
            self.write(y, src, depth + 1)
            self.emit(depth, "else:")
            self.write(y, src, depth + 1)
        elif style == "branch":
            i, values = self.loop(depth)
            self.emit(depth + 1, f"if {self.pick([f'{i} % 2 == 0', f'{i} < 2', f'{i} == 1', f'{i} > 0'])}:")
            self.elem_write(y, src, i, values, depth + 2)
            if self.chance(0.6):
                self.emit(depth + 1, "else:")
                self.elem_write(y, src, i, values, depth + 2)
        elif style == "slices":
            in_loop = self.chance(0.5)
            if in_loop:
                self.loop(depth)
            for _ in range(self.pick([1, 2])):
                self.slice_write(y, src, depth + in_loop, in_loop=in_loop)
        elif style == "nested":
            (i, vi), (j, vj) = self.loop(depth), self.loop(depth + 1)
            if self.dim == 1:
                target = f"{y}[{self.index(j, vj, self.shape[0])}]"
                rhs = self.expr(f"{src}[{self.index(i, vi, self.shape[0])}]") + f" * {target}" * self.chance(0.3)
            else:
                at = lambda: f"[{self.index(i, vi, self.shape[0])}, {self.index(j, vj, self.shape[1])}]"
                target, rhs = y + at(), self.expr(src + at())
            self.emit(depth + 2, f"{target} {self.pick(OPS)} {rhs}")
        else:
            self.write(y, src, depth)

    def buffer(self, filled=False):
        """A new local array of x's shape (never an alias of an argument), optionally written."""
        y = self.name("y", "buf", "out", "acc", "v", "h")
        self.emit(1, f"{y} = {self.ctor(self.src())}")
        if filled:
            self.fill(y, self.src(), 1, "statement")
        return y


# -- patterns: each emits into the builder and returns the main buffer it made, if any -----

def _equal_constructors(b):
    src = b.src()
    made = b.copy_helper(src) if b.chance(0.25) else b.ctor(src)  # the same call for every buffer
    names = [b.name("a", "buf", "y", "out", "acc", "z") for _ in range(b.pick([2, 2, 3]))]
    b.emit(1, *(f"{name} = {made}" for name in names))
    for name in names:
        b.fill(name, b.src(), 1)
    for name in names:
        b.result(name)
    if b.chance(0.4):
        b.results.append(f"np.sum({names[0]} * {names[1]})")
    return names[0]


def _fill_pattern(style):
    def pattern(b):
        y = b.buffer()
        b.fill(y, b.src(), 1, style)
        b.result(y)
        return y
    return pattern


def _alias(b):
    y, t = b.buffer(filled=b.chance(0.5)), b.name("t", "alias", "same", "ref")
    b.emit(1, f"{t} = {y}")
    if b.chance(0.4):
        b.result(b.pick([y, t]), now=True)
    form, src = b.pick(["straight", "loop", "branch"]), b.src()
    if form == "straight":
        for _ in range(b.pick([1, 2, 3])):
            b.write(b.pick([y, t]), src, 1)
            if b.chance(0.2):
                b.emit(1, f"{y} = {y} * 2.0")  # rebinds y: later writes to y miss t
    elif form == "branch":
        i, values = b.loop(1)
        b.emit(2, f"if {i} % 2 == 0:")
        b.elem_write(y, src, i, values, 3)
        b.emit(2, "else:")
        b.elem_write(t, src, i, values, 3)
    else:
        i, values = b.loop(1)
        a = b.pick([y, t])
        b.elem_write(a, a, i, values, 2, self_read=b.chance(0.5))
    b.result(t)
    b.result(y)
    return y


def _view(b):
    y, z = b.buffer(filled=b.chance(0.6)), b.name("z", "view", "part", "tail_", "u")
    if b.chance(0.2):  # a view by bounds only the run knows, made in a loop that writes its base
        total = b.name("total", "tot", "seen")
        b.emit(1, f"{total} = 0.0")
        i, values = b.loop(1)
        b.emit(2, f"{z} = {y}[{b.pick([f'{i}:', f'{i}:{i} + 2', f':{i} + 1'])}]")
        if b.chance(0.5):
            b.emit(2, f"{z} *= {b.w()}")
        b.write(y, b.src(), 2, i, values)
        b.emit(2, f"{total} = {total} + np.sum({z} * {z})")
        b.results.append(total)
        b.result(y)
        return y
    if b.chance(0.2):
        p = b.pick(["p", "a"])
        b.emit(1, f"{z} = {b.helper(('tail', 'rest', 'drop_first'), p, f'return {p}[1:]')}({y})")
    else:
        b.emit(1, f"{z} = {b.pick(VIEWS[b.dim]).format(y=y)}")
    if b.chance(0.4):
        b.result(z, now=True)
    through = b.chance(0.4)  # write through the view and read the base, or the other way round
    i, values = b.loop(1) if b.chance(0.4) else (None, None)
    depth = 1 if i is None else 2
    for _ in range(b.pick([1, 2])):
        if through:
            e = b.expr(b.x_scalar())
            b.emit(depth, b.pick([f"{z}[0] = {e}", f"{z}[-1] += {b.w()}", f"{z}[0] *= {e}",
                                  f"{z}[1:] += {b.w()}", f"{z} *= 0.5"]))
        else:
            b.emit(depth, b.pick([f"{y}[{b.pick(CONST_INDEX)}] += {b.w()}", f"{y}[0] = {b.expr(b.x_scalar())}"]))
            b.write(y, b.src(), depth, i, values)
    b.result(z)
    b.result(y)
    return y


def _tape(b):
    y = b.name("y", "h", "state", "v")
    b.emit(1, f"{y} = " + b.pick(["x * 1.0", "x.copy()", "np.tanh(x)", "np.sin(x)"]))
    if b.chance(0.4):
        b.emit(1, f"{y} = {y} * 1.0")
    acc = b.name("acc", "total", "trace") if b.chance(0.4) else None
    if acc:
        b.emit(1, f"{acc} = 0.0")
    i, values = b.loop(1)
    for _ in range(b.pick([1, 2])):
        if b.chance(0.5):
            b.elem_write(y, y, i, values, 2, op="=", self_read=True)
        elif b.chance(0.5):
            b.slice_write(y, y, 2, self_read=True)
        else:
            b.emit(2, b.pick([f"{y} *= np.cos({y})", f"{y} += np.sin({y}) * {b.w()}", f"{y}[::2] *= {y}[::2]",
                              f"{y}[1::2] *= np.tanh({y}[1::2])"]))
    if acc:
        b.emit(2, f"{acc} = {acc} + np.sum({y} * {y}) * 0.5")
        b.results.append(acc)
    b.result(y)
    return y


def _container(b):
    y, src = b.buffer(filled=b.chance(0.5)), b.src()
    c = b.name("items", "saved", "box", "pair", "d")
    form = b.pick(["list", "append", "dict", "tuple", "concat", "loop_append", "loop_append_late",
                   "write_after_loop", "branch_append"])
    if form in ("loop_append", "loop_append_late", "write_after_loop", "branch_append"):
        # Every item is the same array, written after it was appended: in a loop, before or after
        # the append, after the loop, or after a branch that appended. gradc follows a list's items
        # only while they are known (a display, not a list grown in a loop or a branch); these are
        # refused, naming the write, which is acceptable, never a wrong number.
        b.must_work = False
        s, total = b.name("s", "item", "e"), b.name("total", "tot")
        b.emit(1, f"{c} = []" if form != "branch_append" else f"{c} = [{src}]")
        if form == "branch_append":
            b.emit(1, f"if {b.w_condition()}:", f"    {c}.append({y})", "else:",
                   f"    {c}.append({b.pick([y, src])})")
            b.write(y, src, 1)
        else:
            i, values = b.loop(1)
            if form == "loop_append_late":
                b.elem_write(y, src, i, values, 2)
            b.emit(2, f"{c}.append({y})")
            if form == "loop_append":
                b.elem_write(y, src, i, values, 2)
            if form == "write_after_loop":
                b.write(y, src, 1)
        b.emit(1, f"{total} = 0.0", f"for {s} in {c}:", f"    {total} = {total} + np.sum({s} * {s})")
        b.results.append(total)
        b.result(y)
        return y
    item, other = f"{c}[0]", None
    if form == "list":
        b.emit(1, b.pick([f"{c} = [{y}, {src}]", f"{c} = [{src}, {y}]"]))
        item, other = (item, f"{c}[1]") if b.lines[-1].endswith(f"[{y}, {src}]") else (f"{c}[1]", item)
    elif form == "append":
        b.emit(1, f"{c} = []", f"{c}.append({y})")
    elif form == "dict":
        b.emit(1, f'{c} = {{"a": {y}, "b": {src}}}')
        item, other = f'{c}["a"]', f'{c}["b"]'
    elif form == "concat":  # a new list or tuple holding the same arrays
        made, item, other = b.pick([(f"[{y}] + [{src}]", f"{c}[0]", f"{c}[1]"),
                                    (f"[{src}] + [{y}]", f"{c}[1]", f"{c}[0]"),
                                    (f"[{y}] * 2", f"{c}[0]", f"{c}[1]"),
                                    (f"2 * [{src}, {y}]", f"{c}[-1]", f"{c}[2]"),
                                    (f"({y},) + ({src}, w)", f"{c}[0]", f"{c}[1]")])
        b.emit(1, f"{c} = {made}")
    else:
        b.emit(1, f"{c} = ({y}, w)")
    if b.chance(0.3):
        b.result(item, now=True)
    for _ in range(b.pick([1, 2])):
        b.write(y, src, 1)
    b.result(item)
    if other and b.chance(0.5):
        b.result(other)
    return y


def _identity(b):
    form, p = b.pick(["first", "first_write", "set", "ident"]), b.pick(["a", "p", "arr"])
    if form == "first":
        first, t = b.helper(("first", "pick_first", "left"), f"{p}, q", f"return {p}"), b.name("t", "chosen", "m")
        b.emit(1, f"{t} = {first}({b.src()}, w)")
        b.results.append(f"np.sum({t} * {t})")
        return None
    if form == "set":  # a helper that writes into the local copy it is given
        body = b.pick([f"{p}[0] = v", f"{p}[-1] += v", f"{p}[1:] *= v", f"{p} *= v"])
        setter = b.helper(("set0", "put", "bump", "scale_"), f"{p}, v", body, f"return {p}")
        y, u = b.name("y", "local", "c"), b.name("u", "res", "got")
        b.emit(1, f"{y} = {b.pick([f'{b.src()}.copy()', b.ctor(b.src())])}",
               f"{u} = {setter}({y}, {b.expr(b.x_scalar())})")
        b.result(u)
        b.result(y)
        return y
    y, q = b.buffer(filled=b.chance(0.5)), b.name("q", "t", "alias")
    if form == "first_write":
        b.emit(1, f"{q} = {b.helper(('first', 'left'), f'{p}, q', f'return {p}')}({y}, w)")
    else:
        b.emit(1, f"{q} = {b.helper(('ident', 'same', 'passthrough'), p, f'return {p}')}({y})")
    a, other = b.pick([(y, q), (q, y)])
    for _ in range(b.pick([1, 2])):
        b.write(a, b.src(), 1)
    b.result(other)
    return y


def _copy_helper_twice(b):
    call = b.copy_helper(b.src())
    a1, a2 = b.name("a", "first_", "p1"), b.name("b", "second", "p2")
    b.emit(1, f"{a1} = {call}", f"{a2} = {call}")
    b.fill(a1, b.src(), 1)
    b.fill(a2, b.src(), 1)
    b.results.append(f"np.sum({a1} * {a2})" if b.chance(0.5) else f"np.sum({a1}) + np.sum({a2} * {a2})")
    return a1


def _recursion(b):
    # Starting values c +- 0.05 halve 0..4 times before they drop below 1, never within 0.2 of it.
    c, a, r = b.pick([0.6, 1.4, 2.6, 5.5, 11.0]), b.pick(["a", "s", "v"]), ("r", "rec", "halve")
    if b.chance(0.5):
        tail = b.pick([f"{a}", f"np.sin({a})", f"{a} * {a} * 0.1"])
        r = b.helper(r, a, f"if {a} < 1.0:", f"    return {a}", f"return {{name}}({a} / 2.0) * 1.5 + {tail}")
        s = b.name("s", "rv", "deep")
        b.emit(1, f"{s} = {r}({c} + 0.05 * np.tanh({b.x_scalar()}))")
        b.results.append(f"{s} * {b.w()}" if b.chance(0.5) else s)
    elif b.chance(0.3):  # a recursion that writes into the array it is passed, then recurses
        n = b.pick([1, 2, 3])
        r = b.helper(r, f"{a}, n", "if n == 0:", f"    return np.sum({a} * {a})",
                     f"{a}[n] = np.tanh({a}[n - 1]) * 0.9", f"return {{name}}({a}, n - 1)")
        y, v = b.buffer(filled=True), b.name("v", "rv", "deep")
        b.emit(1, f"{v} = {r}({y}, {min(n, b.shape[0] - 1)})")
        b.results.append(f"{v} * {b.w()}" if b.chance(0.5) else v)
        if b.chance(0.3):  # (Python sees the recursion's writes into y; gradc refuses to read it)
            b.must_work = False
            b.result(y)
    else:
        nudge = ["h[0] += 0.01"] if b.chance(0.5) else []
        r = b.helper(r, a, f"if np.sum({a}) < 1.0:", f"    return {a}", f"h = {a} * 0.5", *nudge,
                     f"return {{name}}(h) * 1.5 + {a}")
        v = b.name("v", "rv", "deep")
        b.emit(1, f"{v} = {r}(({c} + 0.05 * np.tanh(x)) / x.size)")
        b.result(v)


def _scalar_aug(b):
    s, h, c = b.name("s", "e", "first_"), b.name("h", "acc", "hh"), b.name("c", "c0", "base")
    one, zero = ("x[1]", "x[0]") if b.dim == 1 else ("x[1, 2]", "x[0, 1]")
    b.emit(1, f"{s} = {b.x_scalar() if b.chance(0.3) else one}",
           f"{s} {b.pick(['+=', '*=', '-='])} {b.pick(['1.0', b.w(), zero])}",
           f"{c} = 2.0", f"{h} = {c}", f"{h} += {zero}")
    if b.chance(0.5):  # an element read from a local buffer stays put when the buffer changes
        y, e, at = b.buffer(), b.name("e", "elem"), one[2:-1]
        b.emit(1, f"{e} = {y}[{at}]", f"{y}[{at}] += {b.w()}")
        b.results.append(f"{e} * {s}")
        b.result(y)
    b.results.append(b.pick([f"{s} * {s} + {h}", f"np.sin({s}) * {h}", f"{s} * {h} * {b.w()}"]))


def _runtime_alias(b):
    y, z = b.buffer(filled=b.chance(0.5)), b.name("z", "target", "sel")
    form = b.pick(["ifexp", "if", "loop"])
    if form == "ifexp":
        b.emit(1, f"{z} = {y} if {b.w_condition()} else {y} * 2.0", f"{z}[0] = {b.expr(b.x_scalar())}")
    elif form == "if":
        b.emit(1, f"if {b.w_condition()}:", f"    {z} = {y}", "else:", f"    {z} = {y}.copy()", f"{z}[-1] += {b.w()}")
    else:
        i, _ = b.loop(1)
        b.emit(2, f"{z} = {y} if {i} % 2 == 0 else {y} * 1.5", f"{z}[0] += {b.w()}")
        b.emit(1, f"{z} = {y}")  # defined after a loop of 0 steps too
    b.must_work = False
    b.result(y)
    b.result(z)
    return y


def _scopes(b):
    """Comprehensions, generators, a dict comprehension, lambdas, `functools.reduce` and nested
    functions that read a buffer, before and after a write to it, or write into it themselves."""
    y, src = b.buffer(filled=b.chance(0.5)), b.src()
    form = b.pick(["list_then_write", "views_then_write", "closure_write", "generator_sum", "dict_comp",
                   "lambda_late", "reduce", "nested_reads_later"])
    k, i = b.count(), b.name("i", "j", "t")
    at = b.index(i, list(range(k)), b.shape[0])
    j = b.pick(CONST_INDEX)
    item, fn, t = b.name("e", "item", "z"), b.name("bump", "peek", "step", "g"), b.name("u", "q", "p")
    if form in ("list_then_write", "views_then_write", "closure_write"):
        c = b.name("items", "parts", "rows")
        elt = {"list_then_write": b.expr(f"{y}[{at}]"), "views_then_write": f"{y}[{at}]",
               "closure_write": f"{fn}({b.expr(f'{src}[{at}]')})"}[form]
        if form == "closure_write":
            b.emit(1, f"def {fn}({t}):", f"    {y}[{j}] = {y}[{j}] * 0.5 + {t}", f"    return {t} * {y}[{j}]")
        b.emit(1, f"{c} = [{elt} for {i} in range({k})]")
        if form != "closure_write":
            b.write(y, src, 1)
        if form == "views_then_write":
            b.must_work = False  # (a list a loop grew, holding views of y, read after a write to y: may be refused)
        b.results.append(f"sum(np.sum(np.sin({item})) for {item} in {c})")
    elif form == "generator_sum":
        total = b.name("s", "total")
        b.emit(1, f"{total} = sum(np.sum({b.expr(f'{y}[{at}]')}) for {i} in range({k}))")
        b.write(y, src, 1)
        b.results.append(total)
    elif form == "dict_comp":
        d, key, scale = b.name("d", "table"), b.name("key", "name"), b.name("scale", "c")
        b.emit(1, f'{d} = {{{key}: {b.expr(y)} * {scale} for {key}, {scale} in (("a", 1.0), ("b", -2.0))}}')
        b.write(y, src, 1)
        b.results.append(f'np.sum({d}["a"] * {d}["b"])')
    elif form == "lambda_late":
        b.emit(1, f"{fn} = lambda {t}: {b.expr(t)} * {y}[{j}]")
        b.write(y, src, 1)
        b.results.append(f"np.sum({fn}({src}))")  # (the call reads y after the write: late binding)
    elif form == "reduce":
        acc, r = b.name("acc", "a"), b.name("r", "folded")
        b.emit(1, f"{r} = functools.reduce(lambda {acc}, {t}: {acc} * 0.5 + {b.expr(t)}, "
                  f"[{y}[{j}], {src}[{b.pick(CONST_INDEX)}], {y}[{b.pick(CONST_INDEX)}]])")
        b.write(y, src, 1)
        b.results.append(f"np.sum({r})")
    else:
        before = b.name("before", "first")
        b.emit(1, f"def {fn}({t}):", f"    return np.sum({b.expr(y)} * {t})")
        b.emit(1, f"{before} = {fn}({b.w()})")
        b.write(y, src, 1)
        b.results += [before, f"{fn}({b.w()})"]
    b.result(y)
    return y


def _mixed(b):
    for kind in b.rng.choice(MIXABLE, size=b.pick([2, 3]), replace=False):
        made = PATTERNS[str(kind)](b)
        if made:
            b.arrays.append(made)  # later patterns may read it (they never alias it)


PATTERNS = {
    "equal_constructors": _equal_constructors, "fill_loop": _fill_pattern("for"),
    "while_fill": _fill_pattern("while"), "fill_branch": _fill_pattern("branch"),
    "aug_slice": _fill_pattern("slices"), "nested_loops": _fill_pattern("nested"),
    "alias_read_after_write": _alias, "view_read_after_write": _view, "tape_of_updated_buffer": _tape,
    "container_of_arrays": _container, "identity_helper": _identity, "copy_helper_twice": _copy_helper_twice,
    "recursion": _recursion, "scalar_aug": _scalar_aug, "mixed": _mixed, "runtime_alias": _runtime_alias,
    "scopes": _scopes,
}
KINDS = tuple(PATTERNS)
MIXABLE = tuple(k for k in KINDS if k not in ("mixed", "runtime_alias"))


def generate(rng_or_seed, kinds=None) -> Program:
    """A random program of one of `kinds` (default: any; mixed twice as often, runtime_alias 1 in 32)."""
    rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(rng_or_seed)
    if kinds:
        kind = str(rng.choice(list(kinds)))
    else:
        kind = "runtime_alias" if rng.random() < 1 / 32 else str(rng.choice(list(MIXABLE) + ["mixed"] * 2))
    shape = (int(rng.integers(4, 8)),) if rng.random() < 0.6 else tuple(int(n) for n in rng.integers(3, 6, 2))
    b = _Builder(rng, shape, None if rng.random() < 0.6 else 3)
    PATTERNS[kind](b)
    body = "\n".join(b.lines + ["    return " + " + ".join(b.results)])
    source = "import functools\n\nimport numpy as np\n\n\n" + "".join(h + "\n\n" for h in b.helpers) + f"def f(x, w):\n{body}\n"
    wrt = [(0,), (1,), (0, 1)][int(rng.integers(3))]
    return Program(source, kind, wrt, b.must_work, shape, b.w_size, int(rng.integers(2**31)))
