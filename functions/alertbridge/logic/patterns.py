"""Rule patterns (`match` fields): shell-style globs, or Python regular expressions written `re:...`, that
run on every alert and so must finish quickly whatever the alert says.

Python's `re` backtracks: `^(a+)+$` against 30 characters that do not match takes minutes. A linear-time
engine (RE2) is not used because the Lambda bundle is built for manylinux2014_aarch64, and RE2's Python
binding (google-re2) publishes aarch64 wheels only for manylinux_2_28. Instead `check_pattern` accepts only expressions without the
constructs that make backtracking super-linear, and a regex only ever sees the first `MAX_MATCHED_CHARS`
characters of a value:

- no backreferences (`\\1`, `(?P=name)`) and no conditional groups (`(?(1)a|b)`);
- no quantifier, not even `?`, inside a repeated group (`(a+)+`, `(-?\\w)+`, `(a?){20}`,
  `\\w+(\\.\\w+)*`): use a character class instead (`[\\w.-]+`);
- no alternation inside a repeated group unless every alternative starts with its own characters
  (`(get|put)+` is accepted, `(a|ab)+` and `(x|y?)+` are not);
- at most `MAX_UNBOUNDED_REPEATS` open-ended quantifiers (`*`, `+`, `{n,}`, or `{m,n}` spanning more than
  16) in the whole expression (`^[a-z]+-.*$` is accepted; `^[a-z]+-[a-z]+-[a-z]+$` is not: use a glob);
- at most `MAX_PATTERN_CHARS` characters.

Globs use `fnmatch`, whose translation has not backtracked exponentially on many `*` since Python 3.9
(bpo-40480); they are bounded by `MAX_PATTERN_CHARS` only.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

try:  # Python 3.11+ keeps the parser here; `sre_parse` is its deprecated alias
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

REGEX_PREFIX = "re:"
MAX_PATTERN_CHARS = 512
# Longer values are matched on their first MAX_MATCHED_CHARS characters. CloudWatch alarm names and tag
# values are at most 255 and 256 characters, so this only bounds what an application alert may carry.
# With two open-ended quantifiers the worst accepted expression takes tens of milliseconds on 256
# characters; a third makes it over a second.
MAX_MATCHED_CHARS = 256
MAX_UNBOUNDED_REPEATS = 2

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_POSSESSIVE = getattr(sre_constants, "POSSESSIVE_REPEAT", None)
if _POSSESSIVE is not None:
    _REPEATS.add(_POSSESSIVE)
_MAXREPEAT = sre_constants.MAXREPEAT
_SMALL_SPAN = 16  # a{0,16} backtracks little; a{0,100} counts as open-ended


class UnsafePattern(ValueError):
    """A `re:` pattern that does not compile, or that could backtrack for a long time."""


def is_regex(pattern: str) -> bool:
    return pattern.startswith(REGEX_PREFIX)


def check_pattern(pattern: str) -> None:
    """Raise UnsafePattern saying what to change when `pattern` (a glob or `re:...`) cannot run safely."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafePattern(f"pattern is {len(pattern)} characters; at most {MAX_PATTERN_CHARS} are allowed")
    if not is_regex(pattern):
        return
    expression = pattern[len(REGEX_PREFIX) :]
    try:
        parsed = sre_parse.parse(expression)
        re.compile(expression)
    except (re.error, OverflowError, RecursionError) as exc:
        raise UnsafePattern(f"invalid regular expression {expression!r}: {exc}") from None
    counter = [0]
    _check_sequence(list(parsed), expression, repeated=False, counter=counter)
    if counter[0] > MAX_UNBOUNDED_REPEATS:
        raise UnsafePattern(
            f"regular expression {expression!r} has {counter[0]} open-ended quantifiers (*, +, {{n,}}); "
            f"at most {MAX_UNBOUNDED_REPEATS} are allowed, as each one multiplies the backtracking"
        )


def pattern_matches(pattern: str, value: str) -> bool:
    """A glob matches the whole value (case-sensitive); `re:` is searched in the first MAX_MATCHED_CHARS."""
    if is_regex(pattern):
        return _compiled(pattern[len(REGEX_PREFIX) :]).search(value[:MAX_MATCHED_CHARS]) is not None
    return fnmatchcase(value, pattern)


@lru_cache(maxsize=256)
def _compiled(expression: str) -> re.Pattern[str]:
    return re.compile(expression)  # BridgeConfig validation ran check_pattern on every configured pattern


def _check_sequence(
    items: list[tuple[Any, Any]], expression: str, *, repeated: bool, counter: list[int]
) -> None:
    for op, arg in items:
        if op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            raise UnsafePattern(
                f"regular expression {expression!r} uses a backreference or a conditional group: "
                "these can backtrack without bound and are not allowed"
            )
        if op in _REPEATS:
            _check_repeat(arg, expression, repeated=repeated, counter=counter)
        elif op == sre_constants.SUBPATTERN:
            _check_sequence(list(arg[-1]), expression, repeated=repeated, counter=counter)
        elif op == sre_constants.BRANCH:
            branches = [list(branch) for branch in arg[1]]
            if repeated:
                _check_disjoint(branches, expression)
            for branch in branches:
                _check_sequence(branch, expression, repeated=repeated, counter=counter)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            _check_sequence(list(arg[1]), expression, repeated=repeated, counter=counter)
        elif op == getattr(sre_constants, "ATOMIC_GROUP", object()):
            _check_sequence(list(arg), expression, repeated=repeated, counter=counter)


def _check_repeat(arg: Any, expression: str, *, repeated: bool, counter: list[int]) -> None:
    low, high, body = arg
    repeats = high == _MAXREPEAT or high > 1
    if high == _MAXREPEAT or high - low > _SMALL_SPAN:
        counter[0] += 1
    if repeated:
        raise UnsafePattern(
            f"regular expression {expression!r} has a quantifier inside a repeated group (like (a+)+): "
            "this backtracks exponentially on a value that does not match; use a character class "
            "such as [a-z0-9-]+ instead"
        )
    _check_sequence(list(body), expression, repeated=repeated or repeats, counter=counter)


def _check_disjoint(branches: list[list[tuple[Any, Any]]], expression: str) -> None:
    seen: set[str] = set()
    for branch in branches:
        first = _first_chars(branch)
        if first is None or first & seen:
            raise UnsafePattern(
                f"regular expression {expression!r} repeats an alternation whose alternatives can start "
                "with the same character (like (a|ab)+): this backtracks exponentially; "
                "make each alternative start with its own characters"
            )
        seen |= first


def _first_chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The characters a sequence can start with (case-folded both ways), None when unknown or empty."""
    if not items:
        return None
    op, arg = items[0]
    if op == sre_constants.LITERAL:
        return _both_cases({chr(arg)})
    if op == sre_constants.IN:
        chars: set[str] = set()
        for item_op, item_arg in arg:
            if item_op == sre_constants.LITERAL:
                chars.add(chr(item_arg))
            elif item_op == sre_constants.RANGE and item_arg[1] - item_arg[0] < 4096:
                chars.update(chr(code) for code in range(item_arg[0], item_arg[1] + 1))
            else:  # a negated set, a category (\w, \d) or a huge range: cannot tell
                return None
        return _both_cases(chars)
    if op == sre_constants.SUBPATTERN:
        return _first_chars(list(arg[-1]))
    if op in _REPEATS and arg[0] >= 1:
        return _first_chars(list(arg[2]))
    return None


def _both_cases(chars: set[str]) -> set[str]:
    return chars | {c.lower() for c in chars} | {c.upper() for c in chars}
