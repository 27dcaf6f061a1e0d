"""The opt-in on-disk cache of generated gradients (`GRADC_CACHE_DIR`, or `grad(f, cache=True)`).

A new process that finds an entry compiles the stored source straight away: no parsing, no
lowering, no transform. An entry is a JSON file

    <dir>/<function key>/<options key>.json = {"format", "payload", "sha256"}

where the *function key* hashes everything the generated text depends on apart from the options:
the text of the primal's file, its name and first line (comments and the line map cite lines), a description
of every global and closure name its code reads (modules by name, functions by module, qualname
and, for Python functions outside gradc and NumPy, their file's text; simple constants by value), the
rule registry (every rule's primitive and functions; user rules by source), a fingerprint of
gradc's own source files, `gradc.__version__` and the Python version. The *options key* hashes
wrt, mode, optimize and the scalar signature. A value that cannot be described (an object
without a stable name) keeps the function out of the disk cache.

Bindings are stored by name (module + qualname, modules by name) and re-resolved on load. Writes
go to a temporary file renamed into place (`os.replace`), so concurrent writers leave one whole
entry. The payload's SHA-256 is checked before anything is compiled: a truncated or edited entry
is ignored and rewritten. Directories are created private to the user (mode 0o700), and a
directory that another user owns, or that others can write to, is not used.
"""
from __future__ import annotations

import builtins
import dataclasses
import hashlib
import importlib
import json
import linecache
import os
import sys
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..rules.registry import REGISTRY, version as rules_version
from .emit import Emitted
from . import check

__all__ = ["cache_dir", "function_key", "load", "store", "has_entries", "Undescribable"]

FORMAT = 1
_SIMPLE = (int, float, complex, str, bytes, bool, type(None))
_PACKAGE = Path(__file__).resolve().parent.parent  # the gradc package


class Undescribable(Exception):
    """A name's value has no stable description: the function stays out of the disk cache."""


# -- where -------------------------------------------------------------------------------------
def default_dir() -> Path:
    """`$XDG_CACHE_HOME/gradc`, else `~/.cache/gradc`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gradc"


def cache_dir(option: bool | None) -> Path | None:
    """The directory to use: `GRADC_CACHE_DIR`, or the default one for `cache=True`; None if off.
    `cache=False` turns the disk cache off even when the environment variable is set."""
    if option is False:
        return None
    env = os.environ.get("GRADC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return default_dir() if option else None


def _private_dir(path: Path) -> bool:
    """Create `path` with mode 0o700 if missing; True if it is ours and not writable by others."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        warnings.warn(f"gradc: not using cache directory {path}: it is not private to this user "
                      f"(expected owner uid {os.getuid()} and no group/other write permission)",
                      RuntimeWarning, stacklevel=4)
        return False
    return True


# -- describing what a function reads -------------------------------------------------------------
def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()


def _resolves_to(module: str, qualname: str, obj: Any) -> bool:
    """True if `module`.`qualname` names `obj` (so it can be stored by name)."""
    if not module or not qualname or "<" in qualname:
        return False
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:
        return False
    return found is obj


def _source_hash(fn: Callable) -> str:
    """SHA-256 of the text of the file `fn` was defined in (as `linecache`, and so `inspect`, sees it).

    The whole file, not the function alone: finding a function's extent means tokenizing, which
    costs more on a cold start than everything else here. Any edit to the file changes the key."""
    filename = fn.__code__.co_filename
    linecache.checkcache(filename)
    lines = linecache.getlines(filename, fn.__globals__)
    if not lines:
        raise Undescribable(f"no source for {fn!r}")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


_LIBRARIES = frozenset({"numpy", "math", "builtins", "operator"}) | frozenset(getattr(sys, "stdlib_module_names", ()))


def _is_library(module: str) -> bool:
    """NumPy's and the standard library's functions are described by name, not by source."""
    return module.split(".")[0] in _LIBRARIES


def describe(value: Any, seen: set[int] | None = None) -> Any:
    """A JSON-able description of `value` that changes when what gradc would generate could."""
    seen = set() if seen is None else seen
    if isinstance(value, _SIMPLE):
        return ["const", type(value).__name__, repr(value)]
    if isinstance(value, tuple) and len(value) <= 64:
        return ["tuple", [describe(v, seen) for v in value]]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, np.ufunc):
        return ["ufunc", value.__name__]
    if isinstance(value, np.ndarray) and value.nbytes <= 1 << 20:
        return ["ndarray", str(value.dtype), list(value.shape), hashlib.sha256(value.tobytes()).hexdigest()]
    if isinstance(value, np.generic):
        return ["scalar", str(value.dtype), repr(value.item())]
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and callable(value):
        if module == "gradc" or module.startswith("gradc."):  # its source is in package_fingerprint()
            code = getattr(value, "__code__", None)
            return ["gradc", module, qualname, getattr(code, "co_firstlineno", 0)]
        if isinstance(value, types.FunctionType) and not _is_library(module):
            return ["function", module, qualname, value.__code__.co_firstlineno, _source_hash(value),
                    _function_names(value, seen)]
        if _resolves_to(module, qualname, value) or module == "builtins":
            return ["object", module, qualname]
    raise Undescribable(f"cannot describe {type(value).__name__} {value!r:.60}")


def _code_names(code: types.CodeType) -> set[str]:
    """Every name in `code` and its nested code objects (globals and attributes alike)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _function_names(fn: Callable, seen: set[int]) -> Any:
    """Descriptions of the globals and closure values `fn`'s code reads (once per function)."""
    if id(fn) in seen:
        return "seen"
    seen.add(id(fn))
    described = {}
    for name in sorted(_code_names(fn.__code__)):
        if name in fn.__globals__:
            described[name] = describe(fn.__globals__[name], seen)
        elif hasattr(builtins, name):
            described[name] = ["builtin"]
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            described["<closure>" + name] = describe(cell.cell_contents, seen)
        except ValueError:
            described["<closure>" + name] = ["empty"]
    return described


# -- the environment: gradc itself and the rule registry ----------------------------------------------
_fingerprint: list[str] = []
_registry_digest: dict[tuple[int, int], str] = {}


def package_fingerprint() -> str:
    """SHA-256 of gradc's version, its source files and the Python version (once per process)."""
    if not _fingerprint:
        from .. import __version__
        h = hashlib.sha256(f"{__version__} {sys.version} {np.__version__}".encode())
        for path in sorted(_PACKAGE.rglob("*.py")):
            h.update(str(path.relative_to(_PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
        _fingerprint.append(h.hexdigest())
    return _fingerprint[0]


def registry_digest() -> str:
    """A hash of every rule in the registry (user rules by source); recomputed when a rule is registered."""
    current = (rules_version(), len(REGISTRY))  # (a rule deleted from REGISTRY changes the length)
    if current not in _registry_digest:
        items = []
        for primitive, rule in REGISTRY.items():
            key = _describe_primitive(primitive)
            functions = [describe(f) if f is not None else None for f in (rule.vjp, rule.jvp)]
            items.append(repr([key, functions, rule.zero, rule.broadcasts, rule.user, rule.diff_params,
                               rule.var_param]))
        _registry_digest.clear()
        _registry_digest[current] = _digest(sorted(items))
    return _registry_digest[current]


def _describe_primitive(primitive: Any) -> Any:
    """A registry key described: by `describe`, else by a repr that holds no address."""
    if not callable(primitive):
        return [type(primitive).__name__, getattr(primitive, "name", None)]
    try:
        return describe(primitive)
    except Undescribable:
        text = repr(primitive)
        if " at 0x" in text:
            raise
        return ["repr", text]


def function_key(fn: Callable) -> str | None:
    """The part of the key that concerns `fn` and its environment; None if it cannot be described."""
    try:
        code = fn.__code__
        parts = [FORMAT, package_fingerprint(), registry_digest(), code.co_filename, code.co_firstlineno,
                 fn.__qualname__, _source_hash(fn), _function_names(fn, set())]
    except Exception:  # Undescribable, no source, or an object whose repr fails: no disk cache
        return None
    return _digest(parts)


# -- entries ------------------------------------------------------------------------------------
def _entry_path(directory: Path, base: str, options: tuple) -> Path:
    return directory / base[:32] / (_digest(repr(options))[:32] + ".json")


def _symbol(obj: Any) -> dict[str, Any] | None:
    """How to find `obj` again in another process, or None."""
    if isinstance(obj, types.ModuleType):
        return {"module": obj.__name__}
    if isinstance(obj, check.CheckTable):  # (the buffer checker's numbers, GRADC_VERIFY=1)
        return {"check_table": dataclasses.asdict(obj)}
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and _resolves_to(module, qualname, obj):
        return {"module": module, "qualname": qualname}
    return None


def _resolve(symbol: dict[str, Any]) -> Any:
    if "check_table" in symbol:
        return check.CheckTable(**symbol["check_table"])
    found: Any = importlib.import_module(symbol["module"])
    for part in symbol.get("qualname", "").split(".") if "qualname" in symbol else ():
        found = getattr(found, part)
    return found


def _payload(compiled: Any) -> dict | None:
    emitted = compiled.emitted
    symbols = {name: _symbol(obj) for name, obj in emitted.bindings.items()}
    if any(s is None for s in symbols.values()):
        return None
    return {"module_source": emitted.module_source, "function_source": emitted.function_source,
            "function_name": emitted.function_name, "bindings": symbols,
            "closure_names": list(emitted.closure_names),
            "line_map": sorted(emitted.line_map.items()), "primal_ir": compiled.primal_ir, "ir": compiled.ir,
            "written_arguments": [list(w) for w in compiled.written_arguments]}


def _read(path: Path) -> dict | None:
    """The payload stored at `path` if the entry is whole and its hash matches; else None."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        payload = entry["payload"]
        if entry.get("format") != FORMAT or entry.get("sha256") != _digest(payload):
            return None
        return payload
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, payload: dict) -> None:
    """Write the entry atomically: a temporary file in the same directory, then `os.replace`."""
    text = json.dumps({"format": FORMAT, "sha256": _digest(payload), "payload": payload}, sort_keys=True)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


# -- the two calls api.py makes -------------------------------------------------------------------
def has_entries(fn: Callable, option: bool | None) -> bool:
    """True if the disk cache holds some gradient of `fn` as it is now (its syntax is known good)."""
    directory = cache_dir(option)
    if directory is None:
        return False
    base = function_key(fn)
    folder = directory / base[:32] if base else None
    return folder is not None and folder.is_dir() and any(folder.glob("*.json"))


def load(fn: Callable, options: tuple, option: bool | None) -> Any:
    """The `Compiled` stored for `fn` and `options`, or None (cache off, no entry, or a bad entry)."""
    directory = cache_dir(option)
    base = function_key(fn) if directory is not None else None
    if base is None:
        return None
    payload = _read(_entry_path(directory, base, options))
    if payload is None:
        return None
    try:
        bindings = {name: _resolve(symbol) for name, symbol in payload["bindings"].items()}
    except Exception:
        return None
    return _compiled(payload, bindings)


def _compiled(payload: dict, bindings: dict) -> Any:
    from .load import Compiled, compile_factory
    emitted = Emitted(payload["module_source"], payload["function_source"], payload["function_name"],
                      bindings, list(payload["closure_names"]), {int(k): int(v) for k, v in payload["line_map"]})
    written = tuple(tuple(w) if not isinstance(w[1], list) else (w[0], tuple(w[1])) for w in
                    payload.get("written_arguments", []))
    return Compiled(payload["primal_ir"], payload["ir"], emitted, compile_factory(emitted), written)


def store(fn: Callable, options: tuple, option: bool | None, compiled: Any) -> bool:
    """Save `compiled` for `fn` and `options` if the disk cache is on and it can be described."""
    directory = cache_dir(option)
    base = function_key(fn) if directory is not None else None
    payload = _payload(compiled) if base is not None else None
    if payload is None:
        return False
    path = _entry_path(directory, base, options)
    if not (_private_dir(directory) and _private_dir(path.parent)):
        return False
    try:
        _write(path, payload)
    except OSError:
        return False
    return True
