# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CEL predicates of a WorkloadPlacement: compile once, evaluate per cluster.

Private to this collection (module_utils are not a public API).

``spec.predicates[]`` are CEL expressions over one variable, ``cluster``
(docs/api-reference/contract.md). They run on the PyPI package
``common-expression-language`` (import name ``cel``): ``cel.compile(expr)``
gives a program, ``program.execute(context)`` its value. The package is
imported on first use only, so everything else in the placement engine works
without it; a placement that uses predicates then fails with an
:class:`api.SpecError` that says what to install.

Cost model (measured on the development machine): compiling takes tens of
microseconds, so programs are cached by ``(placement uid or name, generation,
expression)``; converting a cluster to a CEL value takes about 50-90 µs, so a
:class:`cel.Context` is built once per cluster view and reused (about 1 µs
per evaluation afterwards). ``cel.Context`` objects are not thread-safe: use
one placement engine per thread.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
from collections import OrderedDict
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api

PACKAGE = "common-expression-language"
VARIABLE = "cluster"

_module: Any = None


def _load_core() -> Any:
    """The compiled core ``cel.cel`` of the package, loaded without the package's ``__init__``.

    ``import cel`` also imports its command-line interface (prompt_toolkit,
    rich, ...): about 0.6 s, against 0.07 s for the core alone -- and every
    Ansible module run is a new process. The core is registered as
    ``cel.cel``, so a later ``import cel`` elsewhere reuses it (the extension
    cannot be initialised twice in one process). Anything unexpected: ImportError.
    """
    if "cel" in sys.modules or "cel.cel" in sys.modules:
        module = sys.modules.get("cel.cel") or sys.modules.get("cel")
        if module is None:
            raise ImportError("cel is not importable")
        return module
    spec = importlib.util.find_spec("cel")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("no package cel")
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for location in spec.submodule_search_locations:
        for name in sorted(os.listdir(location)):
            if name.startswith("cel.") and name.endswith(suffixes):
                path = os.path.join(location, name)
                loader = importlib.machinery.ExtensionFileLoader("cel.cel", path)
                module = importlib.util.module_from_spec(
                    importlib.util.spec_from_file_location("cel.cel", path, loader=loader)
                )
                sys.modules["cel.cel"] = module
                try:
                    loader.exec_module(module)
                except BaseException as exc:  # a Rust panic is a BaseException
                    sys.modules.pop("cel.cel", None)
                    raise ImportError(f"cannot load {path}: {exc}") from exc
                return module
    raise ImportError("no compiled extension in package cel")


def cel_module(field: str = "spec.predicates") -> Any:
    """The CEL library (its compiled core); a SpecError naming ``field`` when it is absent."""
    global _module
    if _module is None:
        try:
            try:
                module = _load_core()
            except ImportError:
                module = importlib.import_module("cel")
        except ImportError as exc:
            raise api.SpecError(
                field,
                f"CEL predicates need the Python package {PACKAGE} (module 'cel'), which is not installed; "
                f"install it with: pip install {PACKAGE}",
            ) from exc
        if not callable(getattr(module, "compile", None)) or not hasattr(module, "Context"):
            raise api.SpecError(
                field, f"the installed module 'cel' is not {PACKAGE}; install it with: pip install {PACKAGE}"
            )
        _module = module
    return _module


def available() -> bool:
    """True when CEL predicates can be used here."""
    try:
        cel_module()
    except api.SpecError:
        return False
    return True


_ERROR = re.compile(r"ERROR:\s*<input>:(\d+):(\d+):\s*([^:]+):\s*(.*)")


def _condense(message: str) -> str:
    """The ERROR lines of a CEL compiler message, on one line, positions in words.

    ``ERROR: <input>:1:22: Syntax error: mismatched input ...`` becomes
    ``syntax error at column 22: mismatched input ...``.
    """
    out = []
    for line in str(message).splitlines():
        found = _ERROR.search(line)
        if found:
            _row, column, kind, text = found.groups()
            out.append(f"{kind.strip().lower()} at column {column}: {text.strip()}")
    if not out:
        lines = [line.strip() for line in str(message).splitlines() if line.strip()]
        out = lines[:1]
    return "; ".join(out) or "unknown error"


def compile_expression(expression: object, field: str) -> Any:
    """Compile one CEL expression; a SpecError naming ``field`` when it is not valid CEL."""
    if not isinstance(expression, str) or not expression.strip():
        raise api.SpecError(field, f"must be a non-empty CEL expression string, not {expression!r}")
    module = cel_module(field)
    try:
        return module.compile(expression)
    except Exception as exc:  # the library raises ValueError; be robust to others
        raise api.SpecError(field, f"invalid CEL expression {expression!r}: {_condense(str(exc))}") from None


class ProgramCache:
    """Compiled programs keyed by ``(owner, generation, expression)``, least recently used out.

    ``owner`` is the placement's uid (or its name when it has none). When an
    owner shows up with a new generation, the programs of its older
    generations are dropped at once.
    """

    def __init__(self, maxsize: int = 4096):
        self.maxsize = maxsize
        self._programs: OrderedDict[tuple[str, object, str], Any] = OrderedDict()
        self._generation: dict[str, object] = {}
        self.compiled = 0  # how many compilations happened (observable in tests)

    def __len__(self) -> int:
        return len(self._programs)

    def get(self, owner: str, generation: object, expression: object, field: str) -> Any:
        key = (owner, generation, expression if isinstance(expression, str) else repr(expression))
        program = self._programs.get(key)
        if program is not None:
            self._programs.move_to_end(key)
            return program
        if self._generation.get(owner, generation) != generation:
            self._forget(owner)
        program = compile_expression(expression, field)
        self.compiled += 1
        self._generation[owner] = generation
        self._programs[key] = program
        while len(self._programs) > self.maxsize:
            (old_owner, _gen, _expr), _evicted = self._programs.popitem(last=False)
            if not any(k[0] == old_owner for k in self._programs):
                self._generation.pop(old_owner, None)
        return program

    def _forget(self, owner: str) -> None:
        for key in [k for k in self._programs if k[0] == owner]:
            del self._programs[key]
        self._generation.pop(owner, None)


def make_context(value: dict) -> Any:
    """A reusable evaluation context binding ``cluster`` to ``value``."""
    context = cel_module().Context()
    context.add_variable(VARIABLE, value)
    return context


def explain_error(exc: BaseException) -> str:
    """A CEL evaluation error in the words of the expression, never a Python exception name.

    The library raises Python exceptions (``KeyError: 'gpu'``); a user wrote CEL
    and wants to know what in it went wrong and how to guard against it.
    """
    text = str(exc).strip()
    if isinstance(exc, KeyError):
        key = text.strip("'\"")
        return (
            f"no such key: '{key}' (a label or field the cluster does not have; guard with "
            f"has(cluster.labels.{key}) or '{key}' in cluster.labels)"
            if key.replace("_", "").replace("-", "").isalnum()
            else f"no such key: '{key}' (guard with '{key}' in the map)"
        )
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, IndexError):
        return f"list index out of range ({text})" if text else "list index out of range"
    if text.startswith("Undefined variable or function:"):
        name = text.split(":", 1)[1].split(".", 1)[0].strip()
        return f"unknown name or function {name}: predicates see one variable, cluster, and the CEL standard functions"
    if text.startswith("Unsupported operation:"):
        return "type mismatch: " + text.split(":", 1)[1].strip()
    if text.startswith("No such overload"):
        return (
            "no such operation for these types (CEL does not convert between int, uint and double: "
            "write 2.0 rather than 2 next to a double, or convert with int(x), double(x), string(x))"
        )
    if isinstance(exc, RecursionError):
        return "the expression nests too deeply"
    return text or "the expression could not be evaluated"


def evaluate(program: Any, context: Any) -> tuple[bool, str | None]:
    """Run one program: ``(True, None)``, ``(False, None)``, or ``(False, error)``.

    Anything but a boolean result is an error; errors are explained in CEL's
    terms (:func:`explain_error`), not as Python exceptions.
    """
    try:
        result = program.execute(context)
    except Exception as exc:
        return False, explain_error(exc)
    if result is True:
        return True, None
    if result is False:
        return False, None
    kind = {str: "a string", int: "an int", float: "a double", list: "a list", dict: "a map"}.get(
        type(result), "a value"
    )
    return False, f"returned {kind} ({result!r}), not true or false"
