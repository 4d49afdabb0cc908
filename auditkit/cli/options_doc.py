"""What a plugin's pydantic options model accepts, as rows for ``adapters show`` / ``analyzers show``.

Each field gives its name, type, default and one line of help: the field's ``description`` or the
attribute docstring written under it in the model's source (the house style of the options models).
"""

from __future__ import annotations

import ast
import enum
import inspect
import itertools
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

__all__ = ["OptionRow", "option_rows"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionRow:
    name: str
    type: str
    default: str
    help: str


def option_rows(*, model: type[BaseModel]) -> list[OptionRow]:
    """One row per field of ``model``, in declaration order."""
    docs = _attribute_docs(model)
    rows = []
    for name, info in model.model_fields.items():
        limits = " ".join(_limit(m) for m in info.metadata if _limit(m))
        kind = _type_name(info.annotation) + (f" ({limits})" if limits else "")
        if info.default is not PydanticUndefined:
            default = "none" if info.default is None else repr(info.default)
        elif info.default_factory is not None:
            default = repr(info.default_factory())  # type: ignore[call-arg]
        else:
            default = "required"
        rows.append(OptionRow(name=name, type=kind, default=default, help=info.description or docs.get(name, "")))
    return rows


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(repr(m.value) for m in annotation)
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


_LIMITS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "length >=", "max_length": "length <="}


def _limit(meta: Any) -> str:
    for attr, sign in _LIMITS.items():
        value = getattr(meta, attr, None)
        if value is not None:
            return f"{sign} {value}"
    return ""


def _attribute_docs(model: type) -> dict[str, str]:
    """``{field: first line of the string under it}`` over the model and its bases (nearest wins)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.strip().split())
    return docs
