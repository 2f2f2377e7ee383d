"""``--keep`` expressions such as ``accuracy == 1 and format == 1 and language_consistency >= 0.95``.

Parsed with :mod:`ast` and evaluated by walking a small whitelist of nodes (names, numbers,
strings, comparisons, and/or/not); nothing is ever ``eval``-ed. A name is a reward (its
``reward_<name>`` column) or any other column. A comparison with a missing or ``None`` value is
false: a row that cannot be judged is not kept silently.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from r1f.errors import ConfigError

COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class KeepExpression:
    """A compiled keep rule; :meth:`check` returns None to keep a row, or the clause that failed."""

    def __init__(self, source: str) -> None:
        self.source = source.strip()
        try:
            tree = ast.parse(self.source, mode="eval").body
        except SyntaxError as err:
            raise ConfigError(
                f'cannot read --keep {source!r}: {err.msg}; e.g. "accuracy == 1 and format >= 0.5"'
            ) from None
        self._validate(tree)
        # top-level "and" clauses are reported one by one, so a dropped row says which one failed
        self.clauses = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
        self.names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})

    def _validate(self, node: ast.AST) -> None:
        allowed = (
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.Compare,
            ast.Name,
            ast.Load,
            ast.Constant,
            ast.Tuple,
            ast.List,
            *COMPARE,
        )
        for child in ast.walk(node):
            if not isinstance(child, allowed):
                raise ConfigError(
                    f"--keep {self.source!r}: {type(child).__name__} is not allowed; use names, numbers, "
                    "comparisons, and/or/not"
                )

    def _value(self, node: ast.AST, row: dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return row.get(f"reward_{node.id}", row.get(node.id))
        if isinstance(node, (ast.Tuple, ast.List)):
            return [self._value(e, row) for e in node.elts]
        if isinstance(node, ast.UnaryOp):
            value = self._value(node.operand, row)
            if isinstance(node.op, ast.Not):
                return not value
            return None if value is None else -value
        if isinstance(node, ast.BoolOp):
            values = (bool(self._value(v, row)) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare):
            left = self._value(node.left, row)
            for op, right_node in zip(node.ops, node.comparators):
                right = self._value(right_node, row)
                if left is None or right is None:
                    return False
                try:
                    if not COMPARE[type(op)](left, right):
                        return False
                except TypeError:
                    return False
                left = right
            return True
        raise ConfigError(f"--keep {self.source!r}: cannot evaluate {type(node).__name__}")

    def check(self, row: dict[str, Any]) -> str | None:
        """None when the row is kept, else the source text of the first clause that failed."""
        for clause in self.clauses:
            if not self._value(clause, row):
                return ast.unparse(clause)
        return None
