"""Does a class really implement a ``typing.Protocol``? ``isinstance`` on a runtime-checkable
protocol only looks for attribute *names*; this compares signatures with :mod:`inspect`."""

from __future__ import annotations

import inspect
from typing import Any

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def protocol_members(protocol: type) -> dict[str, Any]:
    """The methods and properties a protocol class declares itself (dunders excluded)."""
    return {name: value for name, value in vars(protocol).items()
            if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))}  # fmt: skip


def signature_mismatches(impl: type, protocol: type) -> list[str]:
    """Why ``impl`` does not implement ``protocol`` (empty list: it does).

    A protocol property must be a property (or class attribute) of ``impl``. A protocol method
    must be a method of ``impl`` that takes the protocol's parameters with the same names, kinds
    and order; any further parameter of ``impl`` must have a default (or be ``*args``/``**kw``),
    so every call written against the protocol works on ``impl``.
    """
    problems: list[str] = []
    members = protocol_members(protocol)
    if not members:
        raise ValueError(f"{protocol.__name__} declares no members: nothing to compare")
    for name, member in members.items():
        found = inspect.getattr_static(impl, name, None)
        if found is None:
            problems.append(f"{impl.__name__} has no {name}")
            continue
        if isinstance(member, property):
            if inspect.isfunction(found):
                problems.append(f"{impl.__name__}.{name} is a method, the protocol has a property")
            continue
        if not callable(getattr(impl, name)):
            problems.append(f"{impl.__name__}.{name} is not callable")
            continue
        want = list(inspect.signature(member).parameters.values())[1:]  # drop self
        have = list(inspect.signature(getattr(impl, name)).parameters.values())[1:]
        for i, p in enumerate(want):
            if i >= len(have):
                problems.append(f"{impl.__name__}.{name} lacks parameter {p.name!r}")
                break
            q = have[i]
            if q.name != p.name or (p.kind in _POSITIONAL) != (q.kind in _POSITIONAL):
                problems.append(f"{impl.__name__}.{name}: parameter {i + 1} is {q}, the protocol has {p}")
        for q in have[len(want):]:
            optional = q.default is not inspect.Parameter.empty
            if not optional and q.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                problems.append(f"{impl.__name__}.{name} needs {q.name!r}, which the protocol does not pass")
    return problems
