"""The first fence of `mmabench query`: one statement that only reads, checked by a real SQL parser (sqlglot).

Allowed: exactly one SELECT (with WITH, UNION/EXCEPT/INTERSECT, sub-queries), VALUES, or EXPLAIN of one of those
without ANALYZE. Anything else (COPY, SET, DO, CALL, PRAGMA, ATTACH, VACUUM, several statements, text the parser
cannot read) is refused. The database fences behind this one (see readonly.py) do not rely on it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
# statement kinds that must not appear anywhere in the tree (e.g. a DELETE inside a WITH, SELECT … INTO, FOR UPDATE)
_WRITERS = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Copy,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Set,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Into,
    exp.Lock,
    exp.Analyze,
    exp.Grant,
    exp.Revoke,
    exp.Use,
    exp.Kill,
    exp.LoadData,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
)
# blanks and comments between words; a nested /* */ ends early here, which only makes more text look like code
_GAP = r"(?:\s|--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*"
_EXPLAIN = re.compile(rf"{_GAP}explain\b", re.I)
_OPTIONS = re.compile(rf"{_GAP}\(([^()]*)\)", re.I)
_WORD = re.compile(rf"{_GAP}(analy[sz]e|verbose|query\s+plan)\b", re.I)
_ANALYZE = re.compile(r"\banaly[sz]e\b", re.I)


class StatementRefused(PermissionError):
    pass


def check_read_only(sql: str, dialect: str) -> None:
    """Raise StatementRefused unless `sql` is one read-only statement (dialect: "sqlite" or "postgres")."""
    m = _EXPLAIN.match(sql)
    if m:
        pos = m.end()
        opts = _OPTIONS.match(sql, pos)
        if opts:
            if _ANALYZE.search(opts.group(1)):
                raise StatementRefused("EXPLAIN ANALYZE runs the statement; only plain EXPLAIN is allowed")
            pos = opts.end()
        while w := _WORD.match(sql, pos):
            if _ANALYZE.fullmatch(w.group(1)):
                raise StatementRefused("EXPLAIN ANALYZE runs the statement; only plain EXPLAIN is allowed")
            pos = w.end()
        sql = sql[pos:]
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)  # its "falling back to a Command" warnings are our refusals, not noise
    try:
        trees = [t for t in sqlglot.parse(sql, dialect=dialect) if t is not None]
    except SqlglotError as e:
        raise StatementRefused(f"not a statement `query` can check ({str(e).splitlines()[0]})") from e
    finally:
        sqlglot_log.setLevel(level)
    if len(trees) != 1:
        raise StatementRefused(f"give exactly one statement (got {len(trees)})")
    tree = trees[0]
    if not isinstance(tree, _ROOTS):
        raise StatementRefused(f"only SELECT, WITH … SELECT, VALUES and EXPLAIN are allowed, not {_kind(tree)}")
    for node in tree.walk():
        if isinstance(node, _WRITERS):
            raise StatementRefused(f"{_kind(node)} inside a query is not allowed")


def _kind(node: Any) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.TruncateTable):
        return "TRUNCATE"
    if isinstance(node, (exp.Alias, exp.Column, exp.Identifier)):  # a keyword sqlglot read as a name
        return "this statement"
    return node.key.upper()
