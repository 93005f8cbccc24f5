"""The expression language of ``${{ … }}`` and ``$[[ … ]]`` (the two are the same).

A :class:`Template` is a YAML value split into text and expressions. Each expression is parsed by a
real LALR grammar (lark) into a small AST, checked (known functions, argument counts) and later
evaluated against a :class:`Scope` (the contexts: ``flow``, ``params``, ``needs`` …) and the
caller's :class:`~flows.spec.contexts.EvalEnv`.

A template that is exactly one expression keeps the value's type (a bool for ``enable``, a list for
``volumes``); text mixed with expressions evaluates to a string. Every error names the position
where its expression starts (``${{`` in the file).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import contexts as ctx
from .errors import FlowError, FlowSpecError, Pos

GRAMMAR = r"""
?start: test

?test: or_test
     | or_test "if" or_test "else" test              -> ternary
?or_test: and_test
        | or_test "or" and_test                      -> or_op
?and_test: not_test
         | and_test "and" not_test                   -> and_op
?not_test: "not" not_test                            -> not_op
         | comparison
?comparison: bitor
           | comparison COMP_OP bitor                -> compare
?bitor: arith
      | bitor "|" arith                              -> bitor
?arith: term
      | arith ADD_OP term                            -> binop
?term: factor
     | term MUL_OP factor                            -> binop
?factor: ADD_OP factor                               -> unary
       | postfix
?postfix: atom
        | postfix "." NAME                           -> getattr
        | postfix "[" test "]"                       -> getitem
?atom: NAME                                          -> name
     | NAME "(" args? ")"                            -> call
     | "(" test ")"
     | "[" "]"                                       -> empty_list
     | "[" test ("," test)* ","? "]"                 -> list_
     | "[" test "for" NAME "in" or_test ("if" or_test)? "]" -> listcomp
     | "{" "}"                                       -> empty_dict
     | "{" pair ("," pair)* ","? "}"                 -> dict_
     | STRING                                        -> string
     | FLOAT                                         -> float_
     | INT                                           -> int_
     | "None"                                        -> none
     | "True"                                        -> true
     | "true"                                        -> true
     | "False"                                       -> false
     | "false"                                       -> false
args: test ("," test)* ","?
pair: test ":" test

COMP_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
NAME: /[A-Za-z][A-Za-z0-9_]*/
STRING: /'[^']*'/ | /"[^"]*"/
FLOAT: /[0-9][0-9_]*\.[0-9_]*([eE][+-]?[0-9]+)?/ | /[0-9][0-9_]*[eE][+-]?[0-9]+/
INT: /0[xX][0-9a-fA-F_]+/ | /0[oO][0-7_]+/ | /0[bB][01_]+/ | /[0-9][0-9_]*/

%ignore /[ \t\r\n]+/
"""

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True)

#: Every context name the language knows; which ones a field may use depends on where it is.
KNOWN_CONTEXTS = (
    "flow", "project", "env", "tags", "params", "multi", "images", "volumes",
    "strategy", "matrix", "needs", "inputs", "git",
)


class EvalError(Exception):
    """Internal: an evaluation problem; turned into a positioned FlowError by the template."""


# --- AST ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    offset: int  # character offset inside the expression's source

    def children(self) -> Iterator[Expr]:
        return iter(())


@dataclass(frozen=True)
class Literal(Expr):
    value: Any


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class GetAttr(Expr):
    obj: Expr
    name: str

    def children(self) -> Iterator[Expr]:
        yield self.obj


@dataclass(frozen=True)
class GetItem(Expr):
    obj: Expr
    key: Expr

    def children(self) -> Iterator[Expr]:
        yield self.obj
        yield self.key


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]

    def children(self) -> Iterator[Expr]:
        yield from self.args


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr

    def children(self) -> Iterator[Expr]:
        yield self.operand


@dataclass(frozen=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr

    def children(self) -> Iterator[Expr]:
        yield self.left
        yield self.right


@dataclass(frozen=True)
class Ternary(Expr):
    then: Expr
    cond: Expr
    otherwise: Expr

    def children(self) -> Iterator[Expr]:
        yield self.then
        yield self.cond
        yield self.otherwise


@dataclass(frozen=True)
class ListMaker(Expr):
    items: tuple[Expr, ...]

    def children(self) -> Iterator[Expr]:
        yield from self.items


@dataclass(frozen=True)
class ListComp(Expr):
    item: Expr
    var: str
    source: Expr
    cond: Expr | None

    def children(self) -> Iterator[Expr]:
        yield self.item
        yield self.source
        if self.cond is not None:
            yield self.cond


@dataclass(frozen=True)
class DictMaker(Expr):
    pairs: tuple[tuple[Expr, Expr], ...]

    def children(self) -> Iterator[Expr]:
        for key, value in self.pairs:
            yield key
            yield value


def _offset(meta: Any) -> int:
    return int(getattr(meta, "start_pos", 0) or 0)


def _parse_int(text: str) -> int:
    return int(text.replace("_", ""), 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text.replace("_", ""))


@v_args(meta=True, inline=True)
class _ToAst(Transformer):  # type: ignore[type-arg]
    def name(self, meta: Any, token: Token) -> Expr:
        return Name(_offset(meta), str(token))

    def call(self, meta: Any, token: Token, args: list[Expr] | None = None) -> Expr:
        return Call(_offset(meta), str(token), tuple(args or ()))

    def args(self, meta: Any, *items: Expr) -> list[Expr]:
        return list(items)

    def pair(self, meta: Any, key: Expr, value: Expr) -> tuple[Expr, Expr]:
        return (key, value)

    def getattr(self, meta: Any, obj: Expr, token: Token) -> Expr:
        return GetAttr(_offset(meta), obj, str(token))

    def getitem(self, meta: Any, obj: Expr, key: Expr) -> Expr:
        return GetItem(_offset(meta), obj, key)

    def ternary(self, meta: Any, then: Expr, cond: Expr, otherwise: Expr) -> Expr:
        return Ternary(_offset(meta), then, cond, otherwise)

    def or_op(self, meta: Any, left: Expr, right: Expr) -> Expr:
        return BinOp(_offset(meta), "or", left, right)

    def and_op(self, meta: Any, left: Expr, right: Expr) -> Expr:
        return BinOp(_offset(meta), "and", left, right)

    def not_op(self, meta: Any, operand: Expr) -> Expr:
        return Unary(_offset(meta), "not", operand)

    def compare(self, meta: Any, left: Expr, op: Token, right: Expr) -> Expr:
        return BinOp(_offset(meta), str(op), left, right)

    def bitor(self, meta: Any, left: Expr, right: Expr) -> Expr:
        return BinOp(_offset(meta), "|", left, right)

    def binop(self, meta: Any, left: Expr, op: Token, right: Expr) -> Expr:
        return BinOp(_offset(meta), str(op), left, right)

    def unary(self, meta: Any, op: Token, operand: Expr) -> Expr:
        return Unary(_offset(meta), str(op), operand)

    def empty_list(self, meta: Any) -> Expr:
        return ListMaker(_offset(meta), ())

    def list_(self, meta: Any, *items: Expr) -> Expr:
        return ListMaker(_offset(meta), tuple(items))

    def listcomp(self, meta: Any, item: Expr, var: Token, source: Expr, cond: Expr | None = None) -> Expr:
        return ListComp(_offset(meta), item, str(var), source, cond)

    def empty_dict(self, meta: Any) -> Expr:
        return DictMaker(_offset(meta), ())

    def dict_(self, meta: Any, *pairs: tuple[Expr, Expr]) -> Expr:
        return DictMaker(_offset(meta), tuple(pairs))

    def string(self, meta: Any, token: Token) -> Expr:
        return Literal(_offset(meta), str(token)[1:-1])

    def float_(self, meta: Any, token: Token) -> Expr:
        return Literal(_offset(meta), float(str(token).replace("_", "")))

    def int_(self, meta: Any, token: Token) -> Expr:
        return Literal(_offset(meta), _parse_int(str(token)))

    def none(self, meta: Any) -> Expr:
        return Literal(_offset(meta), None)

    def true(self, meta: Any) -> Expr:
        return Literal(_offset(meta), True)

    def false(self, meta: Any) -> Expr:
        return Literal(_offset(meta), False)


class ExprSyntaxError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _describe_unexpected(exc: UnexpectedInput, source: str) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of expression"
    if isinstance(exc, UnexpectedCharacters):
        offset = exc.pos_in_stream or 0
        return f"unexpected character {source[offset]!r} at offset {offset}"
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return "unexpected end of expression"
        return f"unexpected {str(token)!r} at offset {token.start_pos}"
    return "invalid expression"


@lru_cache(maxsize=4096)
def parse_expression(source: str) -> Expr:
    """Parse one expression (the text between the delimiters). Raises ExprSyntaxError."""
    if not source.strip():
        raise ExprSyntaxError("empty expression", 0)
    try:
        tree = _PARSER.parse(source)
    except UnexpectedInput as exc:
        raise ExprSyntaxError(f"syntax error in expression: {_describe_unexpected(exc, source)}",
                              getattr(exc, "pos_in_stream", 0) or 0) from None
    except LarkError as exc:  # pragma: no cover - defensive
        raise ExprSyntaxError(f"syntax error in expression: {exc}", 0) from None
    result = _ToAst().transform(tree)
    assert isinstance(result, Expr)
    _check_calls(result)
    return result


def walk(expr: Expr) -> Iterator[Expr]:
    yield expr
    for child in expr.children():
        yield from walk(child)


# --- functions ------------------------------------------------------------------------------------


@dataclass
class CallEnv:
    scope: Scope
    name: str


@dataclass(frozen=True)
class FuncDef:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    impl: Callable[..., Any]
    signature: str


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, ctx.CtxObject):
        return value.context_name
    return type(value).__name__


def _f_len(env: CallEnv, value: Any) -> int:
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    raise EvalError(f"len() requires a str, list or dict, got {_type_name(value)}")


def _f_keys(env: CallEnv, value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value)
    if isinstance(value, ctx.CtxObject):
        return list(value.ctx_attrs())
    raise EvalError(f"keys() requires a dict, got {_type_name(value)}")


def _f_values(env: CallEnv, value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, ctx.CtxObject):
        return [value.ctx_get(name) for name in value.ctx_attrs()]
    raise EvalError(f"values() requires a dict, got {_type_name(value)}")


def _f_lower(env: CallEnv, value: Any) -> str:
    if not isinstance(value, str):
        raise EvalError(f"lower() requires a str, got {_type_name(value)}")
    return value.lower()


def _f_upper(env: CallEnv, value: Any) -> str:
    if not isinstance(value, str):
        raise EvalError(f"upper() requires a str, got {_type_name(value)}")
    return value.upper()


def _f_fmt(env: CallEnv, spec: Any, *args: Any) -> str:
    if not isinstance(spec, str):
        raise EvalError(f"fmt() first argument should be a str, got {_type_name(spec)}")
    try:
        return spec.format(*[to_text(arg) if isinstance(arg, ctx.CtxObject) else arg for arg in args])
    except (IndexError, KeyError, ValueError) as exc:
        raise EvalError(f"fmt() cannot format {spec!r}: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, ctx.CtxObject):
        return value.to_json_value()
    if isinstance(value, ctx.Always):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot convert {_type_name(value)} to JSON")


def _f_to_json(env: CallEnv, value: Any) -> str:
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise EvalError(f"to_json(): {exc}") from None


def _f_from_json(env: CallEnv, value: Any) -> Any:
    if not isinstance(value, str):
        raise EvalError(f"from_json() requires a str, got {_type_name(value)}")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise EvalError(f"from_json(): invalid JSON: {exc}") from None


def _f_str(env: CallEnv, value: Any) -> str:
    return to_text(value)


def _f_int(env: CallEnv, value: Any) -> int:
    if isinstance(value, (bool, int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise EvalError(f"int() cannot convert {value!r}") from None
    raise EvalError(f"int() requires a str or a number, got {_type_name(value)}")


def _f_range(env: CallEnv, *args: Any) -> list[int]:
    for arg in args:
        if not isinstance(arg, int) or isinstance(arg, bool):
            raise EvalError(f"range() arguments should be ints, got {_type_name(arg)}")
    try:
        return list(range(*args))
    except ValueError as exc:
        raise EvalError(f"range(): {exc}") from None


def _f_replace(env: CallEnv, value: Any, old: Any, new: Any) -> str:
    for arg, what in ((value, "first"), (old, "second"), (new, "third")):
        if not isinstance(arg, str):
            raise EvalError(f"replace() {what} argument should be a str, got {_type_name(arg)}")
    return str(value).replace(str(old), str(new))


def _f_join(env: CallEnv, sep: Any, items: Any, convert: Any = False) -> str:
    if not isinstance(sep, str):
        raise EvalError(f"join() first argument should be a str, got {_type_name(sep)}")
    if not isinstance(items, (list, tuple)):
        raise EvalError(f"join() second argument should be a list, got {_type_name(items)}")
    if not isinstance(convert, bool):
        raise EvalError(f"join() third argument should be a bool, got {_type_name(convert)}")
    parts: list[str] = []
    for index, item in enumerate(items):
        if convert:
            item = to_text(item)
        if not isinstance(item, str):
            raise EvalError(f"join() item {index} should be a str, got {_type_name(item)} "
                            "(pass True as the third argument to convert)")
        parts.append(item)
    return sep.join(parts)


def _f_upload(env: CallEnv, volume: Any) -> Any:
    if not isinstance(volume, ctx.VolumeCtx):
        raise EvalError(f"upload() argument should be a volume (volumes.<id>), got {_type_name(volume)}")
    if volume.local is None:
        raise EvalError(f"upload() needs a volume with 'local' set; volume '{volume.id}' has none")
    hook = env.scope.env.upload
    if hook is None:
        return volume
    try:
        result = hook(volume)
    except Exception as exc:
        raise EvalError(f"upload() of volume '{volume.id}' failed: {exc}") from None
    return volume if result is None else result


def parse_volume_ref(text: str) -> tuple[str, str, bool]:
    """Split ``storage:path:/mount[:ro|:rw]`` into (remote, mount, read_only). Raises ValueError."""
    parts = text.split(":")
    read_only = False
    if len(parts) >= 2 and parts[-1] in ("ro", "rw"):
        read_only = parts[-1] == "ro"
        parts = parts[:-1]
    if len(parts) < 3 or not parts[-1].startswith("/"):
        raise ValueError(f"{text!r} is not a volume reference like 'storage:path:/mount[:ro|:rw]'")
    remote = ":".join(parts[:-1])
    if not parts[0] or not parts[1:-1] or not remote.split(":", 1)[1]:
        raise ValueError(f"{text!r} is not a volume reference like 'storage:path:/mount[:ro|:rw]'")
    return remote, parts[-1], read_only


def _f_parse_volume(env: CallEnv, value: Any) -> ctx.VolumeCtx:
    if not isinstance(value, str):
        raise EvalError(f"parse_volume() requires a str, got {_type_name(value)}")
    try:
        remote, mount, read_only = parse_volume_ref(value)
    except ValueError as exc:
        raise EvalError(f"parse_volume(): {exc}") from None
    return ctx.VolumeCtx(id="<volume>", remote=remote, mount=mount, read_only=read_only, local=None)


def _f_hash_files(env: CallEnv, *patterns: Any) -> str:
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise EvalError(f"hash_files() arguments should be str patterns, got {_type_name(pattern)}")
    source = env.scope.env.files
    if source is None:
        raise EvalError("hash_files() is not available here: no access to the flow's files")
    try:
        return ctx.hash_files(source, patterns)
    except (OSError, KeyError) as exc:
        raise EvalError(f"hash_files() could not read the flow's files: {exc}") from None


def _f_inspect_job(env: CallEnv, job_id: Any, suffix: Any = None) -> Any:
    if "multi" not in env.scope.contexts and "params" not in env.scope.contexts:
        raise EvalError("inspect_job() is only available inside a live job definition")
    if not isinstance(job_id, str):
        raise EvalError(f"inspect_job() job name should be a str, got {_type_name(job_id)}")
    if suffix is not None and not isinstance(suffix, str):
        raise EvalError(f"inspect_job() suffix should be a str, got {_type_name(suffix)}")
    hook = env.scope.env.inspect_job
    if hook is None:
        raise EvalError("inspect_job() is not available here")
    try:
        return hook(job_id, suffix)
    except Exception as exc:
        raise EvalError(f"inspect_job({job_id!r}) failed: {exc}") from None


def _needs_results(env: CallEnv) -> Mapping[str, Any]:
    needs = env.scope.contexts.get("needs")
    if needs is None:
        raise EvalError(f"{env.name}() is only available inside a task definition")
    assert isinstance(needs, Mapping)
    return needs


def _selected(env: CallEnv, ids: Sequence[Any]) -> list[str]:
    needs = _needs_results(env)
    if not ids:
        return [dep.result for dep in needs.values()]
    results: list[str] = []
    for task_id in ids:
        if not isinstance(task_id, str):
            raise EvalError(f"{env.name}() arguments should be task ids (str), got {_type_name(task_id)}")
        if task_id not in needs:
            raise EvalError(f"{env.name}() argument '{task_id}' is not in the task's needs "
                            f"({', '.join(sorted(needs)) or 'none'})")
        results.append(needs[task_id].result)
    return results


def _f_success(env: CallEnv, *ids: Any) -> bool:
    return all(result == "succeeded" for result in _selected(env, ids))


def _f_failure(env: CallEnv, *ids: Any) -> bool:
    return any(result == "failed" for result in _selected(env, ids))


def _f_always(env: CallEnv) -> ctx.Always:
    _needs_results(env)
    return ctx.ALWAYS


FUNCTIONS: dict[str, FuncDef] = {
    f.name: f
    for f in (
        FuncDef("len", 1, 1, _f_len, "len(value)"),
        FuncDef("keys", 1, 1, _f_keys, "keys(dict)"),
        FuncDef("values", 1, 1, _f_values, "values(dict)"),
        FuncDef("lower", 1, 1, _f_lower, "lower(str)"),
        FuncDef("upper", 1, 1, _f_upper, "upper(str)"),
        FuncDef("fmt", 1, None, _f_fmt, "fmt(format, arg, ...)"),
        FuncDef("to_json", 1, 1, _f_to_json, "to_json(value)"),
        FuncDef("from_json", 1, 1, _f_from_json, "from_json(str)"),
        FuncDef("str", 1, 1, _f_str, "str(value)"),
        FuncDef("int", 1, 1, _f_int, "int(value)"),
        FuncDef("range", 1, 3, _f_range, "range([start,] stop[, step])"),
        FuncDef("replace", 3, 3, _f_replace, "replace(str, old, new)"),
        FuncDef("join", 2, 3, _f_join, "join(separator, list[, convert_to_str])"),
        FuncDef("upload", 1, 1, _f_upload, "upload(volume)"),
        FuncDef("parse_volume", 1, 1, _f_parse_volume, "parse_volume(str)"),
        FuncDef("hash_files", 1, None, _f_hash_files, "hash_files(pattern, ...)"),
        FuncDef("inspect_job", 1, 2, _f_inspect_job, "inspect_job(job_id[, suffix])"),
        FuncDef("success", 0, None, _f_success, "success([task_id, ...])"),
        FuncDef("failure", 0, None, _f_failure, "failure([task_id, ...])"),
        FuncDef("always", 0, 0, _f_always, "always()"),
    )
}


def _check_calls(expr: Expr) -> None:
    for node in walk(expr):
        if not isinstance(node, Call):
            continue
        func = FUNCTIONS.get(node.func)
        if func is None:
            raise ExprSyntaxError(f"unknown function '{node.func}' (known: {', '.join(sorted(FUNCTIONS))})",
                                  node.offset)
        count = len(node.args)
        if count < func.min_args or (func.max_args is not None and count > func.max_args):
            if func.max_args is None:
                expected = f"at least {func.min_args}"
            elif func.min_args == func.max_args:
                expected = str(func.min_args)
            else:
                expected = f"{func.min_args} to {func.max_args}"
            raise ExprSyntaxError(f"{node.func}() takes {expected} argument{'s' if expected != '1' else ''}, "
                                  f"got {count}: {func.signature}", node.offset)


# --- evaluation -------------------------------------------------------------------------------------


@dataclass
class Scope:
    """The contexts an expression can read, plus names known but not available here (with why)."""

    contexts: dict[str, Any]
    env: ctx.EvalEnv = field(default_factory=ctx.EvalEnv)
    unavailable: dict[str, str] = field(default_factory=dict)

    def with_locals(self, **values: Any) -> Scope:
        return Scope({**self.contexts, **values}, self.env, self.unavailable)

    def lookup(self, name: str) -> Any:
        if name in self.contexts:
            return self.contexts[name]
        if name in self.unavailable:
            raise EvalError(self.unavailable[name])
        if name in KNOWN_CONTEXTS:
            raise EvalError(f"the '{name}' context is not available here")
        raise EvalError(f"unknown context '{name}' (available: {', '.join(sorted(self.contexts)) or 'none'})")


def to_text(value: Any) -> str:
    """How a value reads when it is part of a string (``None`` → ``None``, as in apolo-flow)."""
    if isinstance(value, str):
        return value
    if isinstance(value, ctx.CtxObject):
        return json.dumps(value.to_json_value(), default=_json_default)
    if isinstance(value, tuple):
        return str(list(value))
    return str(value)


def _path(expr: Expr) -> str:
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, GetAttr):
        return f"{_path(expr.obj)}.{expr.name}"
    if isinstance(expr, GetItem):
        key = expr.key
        if isinstance(key, Literal):
            return f"{_path(expr.obj)}[{key.value!r}]"
        return f"{_path(expr.obj)}[...]"
    if isinstance(expr, Call):
        return f"{expr.func}(...)"
    return "value"


def _known_keys(obj: Any) -> str:
    if isinstance(obj, Mapping):
        keys = sorted(str(key) for key in obj)
    elif isinstance(obj, ctx.CtxObject):
        keys = list(obj.ctx_attrs())
    else:
        keys = []
    return ", ".join(keys) if keys else "none"


def _get_attr(obj: Any, name: str, where: str) -> Any:
    if isinstance(obj, ctx.CtxObject):
        try:
            return obj.ctx_get(name)
        except KeyError:
            raise EvalError(f"'{where}' has no attribute '{name}' (known: {_known_keys(obj)})") from None
    if isinstance(obj, Mapping):
        if name in obj:
            return obj[name]
        raise EvalError(f"'{where}' has no attribute '{name}' (known: {_known_keys(obj)})")
    raise EvalError(f"cannot read attribute '{name}' of '{where}', a {_type_name(obj)} value")


def _get_item(obj: Any, key: Any, where: str) -> Any:
    if isinstance(obj, ctx.CtxObject):
        if not isinstance(key, str):
            raise EvalError(f"'{where}' keys are strings, got {_type_name(key)}")
        return _get_attr(obj, key, where)
    if isinstance(obj, Mapping):
        try:
            return obj[key]
        except (KeyError, TypeError):
            raise EvalError(f"'{where}' has no item {key!r} (known: {_known_keys(obj)})") from None
    if isinstance(obj, (list, tuple, str)):
        if not isinstance(key, int) or isinstance(key, bool):
            raise EvalError(f"'{where}' is indexed by int, got {_type_name(key)}")
        try:
            return obj[key]
        except IndexError:
            raise EvalError(f"index {key} is out of range for '{where}' (length {len(obj)})") from None
    raise EvalError(f"cannot index '{where}', a {_type_name(obj)} value")


def _merge_or(left: Any, right: Any) -> Any:
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return {**left, **right}
    return operator.or_(left, right)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "+": operator.add, "-": operator.sub,
    "*": operator.mul, "/": operator.truediv, "%": operator.mod, "|": _merge_or,
}


def evaluate(expr: Expr, scope: Scope) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        return scope.lookup(expr.name)
    if isinstance(expr, GetAttr):
        return _get_attr(evaluate(expr.obj, scope), expr.name, _path(expr.obj))
    if isinstance(expr, GetItem):
        obj = evaluate(expr.obj, scope)
        return _get_item(obj, evaluate(expr.key, scope), _path(expr.obj))
    if isinstance(expr, Call):
        func = FUNCTIONS[expr.func]
        args = [evaluate(arg, scope) for arg in expr.args]
        return func.impl(CallEnv(scope, func.name), *args)
    if isinstance(expr, Unary):
        value = evaluate(expr.operand, scope)
        if expr.op == "not":
            return not value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EvalError(f"unary '{expr.op}' needs a number, got {_type_name(value)}")
        return -value if expr.op == "-" else +value
    if isinstance(expr, BinOp):
        if expr.op == "and":
            left = evaluate(expr.left, scope)
            return evaluate(expr.right, scope) if left else left
        if expr.op == "or":
            left = evaluate(expr.left, scope)
            return left if left else evaluate(expr.right, scope)
        left = evaluate(expr.left, scope)
        right = evaluate(expr.right, scope)
        try:
            return _BINARY[expr.op](left, right)
        except ZeroDivisionError:
            raise EvalError("division by zero") from None
        except TypeError:
            raise EvalError(f"'{expr.op}' is not supported between "
                            f"{_type_name(left)} and {_type_name(right)}") from None
    if isinstance(expr, Ternary):
        return evaluate(expr.then if evaluate(expr.cond, scope) else expr.otherwise, scope)
    if isinstance(expr, ListMaker):
        return [evaluate(item, scope) for item in expr.items]
    if isinstance(expr, ListComp):
        source = evaluate(expr.source, scope)
        if isinstance(source, Mapping):
            source = list(source)
        if not isinstance(source, (list, tuple, str)):
            raise EvalError(f"cannot iterate over a {_type_name(source)} value")
        result = []
        for value in source:
            inner = scope.with_locals(**{expr.var: value})
            if expr.cond is not None and not evaluate(expr.cond, inner):
                continue
            result.append(evaluate(expr.item, inner))
        return result
    if isinstance(expr, DictMaker):
        result_map: dict[Any, Any] = {}
        for key_expr, value_expr in expr.pairs:
            key = evaluate(key_expr, scope)
            if isinstance(key, (list, dict)):
                raise EvalError(f"a {_type_name(key)} cannot be a dict key")
            result_map[key] = evaluate(value_expr, scope)
        return result_map
    raise AssertionError(f"unknown expression node {expr!r}")  # pragma: no cover


# --- references (for checks at load time) -----------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A context read found in an expression: ``volumes.data.ref`` → root 'volumes', path
    ('data', 'ref'); a path stops at the first part that is not a constant name."""

    root: str
    path: tuple[str, ...]


def references(expr: Expr) -> list[Ref]:
    found: list[Ref] = []

    def chain(node: Expr) -> tuple[str, tuple[str, ...]] | None:
        if isinstance(node, Name):
            return node.name, ()
        if isinstance(node, GetAttr):
            inner = chain(node.obj)
            return None if inner is None else (inner[0], (*inner[1], node.name))
        if isinstance(node, GetItem) and isinstance(node.key, Literal) and isinstance(node.key.value, str):
            inner = chain(node.obj)
            return None if inner is None else (inner[0], (*inner[1], node.key.value))
        return None

    def visit(node: Expr, bound: frozenset[str]) -> None:
        found_chain = chain(node) if isinstance(node, (Name, GetAttr, GetItem)) else None
        if found_chain is not None:
            # a chain of constant names: nothing inside it to visit
            root, path = found_chain
            if root not in bound:
                found.append(Ref(root, path))
            return
        if isinstance(node, ListComp):
            visit(node.source, bound)
            inner = bound | {node.var}
            visit(node.item, inner)
            if node.cond is not None:
                visit(node.cond, inner)
            return
        for child in node.children():
            visit(child, bound)

    visit(expr, frozenset())
    return found


# --- templates ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Literal text (``expr`` is None) or one expression with the position of its ``${{``."""

    text: str
    expr: Expr | None
    pos: Pos


_OPENERS = {"${{": "}}", "$[[": "]]"}
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def split_template(text: str) -> list[tuple[str, int, str | None]]:
    """Split ``text`` into pieces: ``(piece, offset, None)`` for text, ``(source, offset, opener)``
    for an expression (offset of its opener). Raises ExprSyntaxError for an unclosed expression."""
    pieces: list[tuple[str, int, str | None]] = []
    index = 0
    length = len(text)
    while index < length:
        starts = [pos for pos in (text.find("${{", index), text.find("$[[", index)) if pos >= 0]
        if not starts:
            pieces.append((text[index:], index, None))
            break
        start = min(starts)
        if start > index:
            pieces.append((text[index:start], index, None))
        opener = text[start:start + 3]
        closer = _OPENERS[opener]
        cursor = start + 3
        depth: list[str] = []
        quote: str | None = None
        end = -1
        while cursor < length:
            char = text[cursor]
            if quote is not None:
                if char == quote:
                    quote = None
            elif char in ("'", '"'):
                quote = char
            elif not depth and text.startswith(closer, cursor):
                end = cursor
                break
            elif char in _PAIRS:
                depth.append(_PAIRS[char])
            elif depth and char == depth[-1]:
                depth.pop()
            cursor += 1
        if end < 0:
            raise ExprSyntaxError(f"unclosed expression: '{opener}' without '{closer}'", start)
        pieces.append((text[start + 3:end], start, opener))
        index = end + len(closer)
    return pieces


@dataclass(frozen=True)
class Template:
    """A YAML value that may hold expressions.

    ``value`` is the YAML value itself (typed: ``8080`` stays an int); ``segments`` is empty when
    the value holds no expression. ``errors`` holds syntax errors found when the value was read:
    evaluating such a template raises them.
    """

    pos: Pos
    value: Any
    segments: tuple[Segment, ...] = ()
    errors: tuple[FlowError, ...] = ()

    @classmethod
    def constant(cls, value: Any, pos: Pos) -> Template:
        return cls(pos, value)

    @classmethod
    def parse(cls, text: str, pos: Pos, pos_at: Callable[[int], Pos] | None = None) -> Template:
        """Read ``text`` (a string value at ``pos``); ``pos_at(offset)`` maps a character of the
        text to its place in the file (for values that span lines)."""
        if "${{" not in text and "$[[" not in text:
            return cls(pos, text)

        def where(offset: int) -> Pos:
            return pos_at(offset) if pos_at is not None else pos.shifted(offset)

        try:
            pieces = split_template(text)
        except ExprSyntaxError as exc:
            return cls(pos, text, (), (FlowError.at(where(exc.offset), str(exc)),))
        segments: list[Segment] = []
        errors: list[FlowError] = []
        for piece, offset, opener in pieces:
            if opener is None:
                segments.append(Segment(piece, None, where(offset)))
                continue
            expr_pos = where(offset)
            try:
                expr = parse_expression(piece)
            except ExprSyntaxError as exc:
                errors.append(FlowError.at(expr_pos, f"{exc} in '{opener}{piece}{_OPENERS[opener]}'"))
                continue
            segments.append(Segment(piece, expr, expr_pos))
        return cls(pos, text, tuple(segments), tuple(errors))

    @property
    def has_expressions(self) -> bool:
        return bool(self.errors) or any(segment.expr is not None for segment in self.segments)

    @property
    def is_single_expression(self) -> bool:
        return len(self.segments) == 1 and self.segments[0].expr is not None

    @property
    def text(self) -> str | None:
        """The value as written, when it is a string (or a scalar shown as one)."""
        if self.value is None:
            return None
        return self.value if isinstance(self.value, str) else to_text(self.value)

    def expressions(self) -> list[tuple[Expr, Pos]]:
        return [(segment.expr, segment.pos) for segment in self.segments if segment.expr is not None]

    def evaluate(self, scope: Scope) -> Any:
        """Evaluate; raises FlowSpecError with the position of the failing expression."""
        if self.errors:
            raise FlowSpecError(self.errors)
        if not self.segments:
            return self.value
        if self.is_single_expression:
            segment = self.segments[0]
            return self._eval_segment(segment, scope)
        parts: list[str] = []
        for segment in self.segments:
            if segment.expr is None:
                parts.append(segment.text)
            else:
                parts.append(to_text(self._eval_segment(segment, scope)))
        return "".join(parts)

    @staticmethod
    def _eval_segment(segment: Segment, scope: Scope) -> Any:
        assert segment.expr is not None
        try:
            return evaluate(segment.expr, scope)
        except EvalError as exc:
            raise FlowSpecError.at(segment.pos, str(exc)) from None
        except RecursionError:
            raise FlowSpecError.at(segment.pos, "expression is nested too deeply") from None


def evaluate_source(source: str, scope: Scope, pos: Pos | None = None) -> Any:
    """Evaluate a bare expression (no delimiters) — handy for tests and the console's REPL."""
    where = pos or Pos("<expression>", 1, 1)
    try:
        expr = parse_expression(source)
    except ExprSyntaxError as exc:
        raise FlowSpecError.at(where, str(exc)) from None
    try:
        return evaluate(expr, scope)
    except EvalError as exc:
        raise FlowSpecError.at(where, str(exc)) from None
