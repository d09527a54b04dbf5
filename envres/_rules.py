"""Team rules for committed profiles: ``[[tool.envres.rules]]`` and the built-in ones.

A rule names profiles by glob and says what they may not hold (``forbid_types``)
or must hold (``require_keys``). Built in, and on for every profile unless a rule
sets ``literal_secrets = "off"`` (or ``"warning"``): no secret is written in a
profile file. That is two checks:

- a value in a secret position (by type or by name, :mod:`envres._secrets`) that is
  written out instead of read from a ``${...}`` reference or a template;
- any line of a profile file holding text shaped like a credential
  (:func:`envres._secrets.credential_shapes`), comments included, since a
  committed comment is as public as a value.

A line ending in ``# envres: allow-literal`` is exempt from both; each such comment
is reported back (:class:`Allowance`), so ``validate --verbose`` lists them.
Rules are checked on a profile that validated: the checks read its merged entries,
the secrets its config reader found written out (by its types' secret shapes and
the names of keys) and the text of each file of its ``extends`` chain.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from itertools import accumulate
from pathlib import Path
from typing import Literal

from envres._codes import CREDENTIAL_SHAPE, FORBIDDEN_TYPE, LITERAL_SECRET, REQUIRED_KEY
from envres._errors import Loc, Problem
from envres._profiles import ProfileFile
from envres._record import Record
from envres._resolved import ResolvedProfile
from envres._secrets import (
    CredentialShape,
    credential_offsets,
    credential_shapes,
)
from envres._settings import Rule
from envres._values import Origins

__all__ = ["ALLOW_LITERAL", "Allowance", "RuleReport", "check_rules"]

#: The comment that exempts its line from the literal-secret checks.
ALLOW_LITERAL = "# envres: allow-literal"
_ALLOW = re.compile(r"#\s*envres:\s*allow-literal\b")


class Allowance(Record):
    """One ``# envres: allow-literal`` comment and what it let through on its line."""

    __slots__ = ("loc", "allowed")
    loc: Loc
    allowed: tuple[str, ...]

    def __init__(self, loc: Loc, allowed: tuple[str, ...]) -> None:
        self._set(loc, allowed)

    def text(self) -> str:
        """What the comment let through, in words (without its place)."""
        what = "; ".join(self.allowed) if self.allowed else "nothing on this line needs it"
        return f"allow-literal: {what}"

    def __str__(self) -> str:
        return f"{self.loc}: {self.text()}"


class RuleReport(Record):
    """What the rules found in one profile: problems, and the opt-out comments met."""

    __slots__ = ("problems", "allowances")
    problems: tuple[Problem, ...]
    allowances: tuple[Allowance, ...]

    def __init__(self, problems: tuple[Problem, ...], allowances: tuple[Allowance, ...]) -> None:
        self._set(problems, allowances)


def _describe(number: int, rule: Rule, setting: str) -> str:
    """The rule as written in pyproject.toml: which table, its profiles and the setting."""
    value = getattr(rule, setting)
    shown = json.dumps(value if isinstance(value, str) else list(value))
    globs = json.dumps(list(rule.profiles))
    return f"[[tool.envres.rules]] #{number} (profiles = {globs}, {setting} = {shown})"


def _literal_secrets(profile: ResolvedProfile) -> list[tuple[str, Loc]]:
    """``(dotted path, where)`` of each secret written out in the merged profile.

    The config reader noted them as it read each value (:class:`Origins`): a
    second walk over every value of every resource cost a twentieth of a
    10,000-resource validate.
    """
    found: list[tuple[str, Loc]] = []
    for key, res in profile.resources.items():
        origins = res.origins
        if isinstance(origins, Origins):
            for path, loc in origins.written_secrets:
                dotted = ".".join(str(p) for p in path)
                found.append((f"resources.{key}.config.{dotted}", loc))
    return found


def check_rules(
    profile: ResolvedProfile,
    rules: Sequence[Rule],
    files: Mapping[str, ProfileFile],
    read: Callable[[Path], bytes],
) -> RuleReport:
    """Check ``profile`` against the rules naming it and the built-in literal-secret rule."""
    problems: list[Problem] = []
    level, level_from = _apply_rules(profile, rules, problems)
    if level == "off":
        return RuleReport(tuple(problems), ())
    severity: Literal["error", "warning"] = "warning" if level == "warning" else "error"
    why = f" ({level_from})" if level_from else ""
    texts = _chain_texts(profile, files, read)
    allowed: dict[tuple[str, int], list[str]] = {}
    columns: dict[tuple[str, int], int] = {}
    for file, text in texts.items():
        for line_no, column in text.allow_comments():
            allowed[(file, line_no)] = []
            columns[(file, line_no)] = column
    flagged = _flag_literal_secrets(profile, allowed, severity, why, problems)
    _flag_credential_shapes(texts, allowed, flagged, severity, why, problems)
    allowances = tuple(
        Allowance(Loc(file, n, columns[(file, n)]), tuple(what))
        for (file, n), what in allowed.items()
    )
    return RuleReport(tuple(problems), allowances)


def _apply_rules(
    profile: ResolvedProfile, rules: Sequence[Rule], problems: list[Problem]
) -> tuple[str, str]:
    """Check the rules naming the profile; the literal-secret level and the rule setting it."""
    level = "error"
    level_from = ""
    for number, rule in enumerate(rules, 1):
        if not any(fnmatchcase(profile.name, glob) for glob in rule.profiles):
            continue
        if rule.literal_secrets is not None:
            level = rule.literal_secrets
            level_from = _describe(number, rule, "literal_secrets")
        if rule.forbid_types:
            _forbid_types(
                profile, rule.forbid_types, _describe(number, rule, "forbid_types"), problems
            )
        if rule.require_keys:
            _require_keys(
                profile, rule.require_keys, _describe(number, rule, "require_keys"), problems
            )
    return level, level_from


def _forbid_types(
    profile: ResolvedProfile, globs: Sequence[str], text: str, problems: list[Problem]
) -> None:
    """A problem for each resource whose type matches one of ``globs``."""
    for key, res in profile.resources.items():
        if any(fnmatchcase(res.type_name, t) for t in globs):
            problems.append(
                Problem(
                    f"type '{res.type_name}' is not allowed in profile '{profile.name}' by {text}",
                    res.type_loc or res.key_loc,
                    f"resources.{key}.type",
                    code=FORBIDDEN_TYPE,
                )
            )


def _require_keys(
    profile: ResolvedProfile, keys: Sequence[str], text: str, problems: list[Problem]
) -> None:
    """A problem for each of ``keys`` the profile does not define."""
    for key in keys:
        if key not in profile.resources:
            problems.append(
                Problem(
                    f"profile '{profile.name}' must define resource '{key}' by {text}",
                    Loc(profile.merged.file.display, 1, 1),
                    f"resources.{key}",
                    code=REQUIRED_KEY,
                )
            )


def _flag_literal_secrets(
    profile: ResolvedProfile,
    allowed: dict[tuple[str, int], list[str]],
    severity: Literal["error", "warning"],
    why: str,
    problems: list[Problem],
) -> set[tuple[str, int]]:
    """A problem for each secret written out, unless its line allows it; the lines flagged."""
    flagged: set[tuple[str, int]] = set()
    for dotted, loc in _literal_secrets(profile):
        spot = (loc.file, loc.line)
        if spot in allowed:
            allowed[spot].append(f"a secret written at {dotted}")
            continue
        flagged.add(spot)
        problems.append(
            Problem(
                "a secret is written in the profile; read it from a variable (${NAME}) or a "
                f"secret source, or end the line with '{ALLOW_LITERAL}'{why}",
                loc,
                dotted,
                severity,
                code=LITERAL_SECRET,
            )
        )
    return flagged


def _flag_credential_shapes(
    texts: Mapping[str, _Text],
    allowed: dict[tuple[str, int], list[str]],
    flagged: set[tuple[str, int]],
    severity: Literal["error", "warning"],
    why: str,
    problems: list[Problem],
) -> None:
    """A problem for each credential-shaped text on a line neither allowed nor flagged."""
    for file, text in texts.items():
        for line_no, found in text.credentials():
            spot = (file, line_no)
            if spot in allowed:
                allowed[spot].append(found.kind)
            elif spot not in flagged:
                problems.append(
                    Problem(
                        f"{found.kind} is written in the profile; read it from a variable "
                        f"(${{NAME}}), or end the line with '{ALLOW_LITERAL}'{why}",
                        Loc(file, line_no, found.start + 1),
                        severity=severity,
                        code=CREDENTIAL_SHAPE,
                    )
                )


class _Text:
    """One profile file's text, scanned whole; split into lines only where a scan hit.

    Line numbers are those of ``str.splitlines`` (1-based), columns 1-based.
    """

    __slots__ = ("text", "_lines", "_starts")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] = []
        self._starts: list[int] = []

    def _place(self, offset: int) -> tuple[int, int, str]:
        """``(line number, column, the line without its end)`` of a character offset."""
        if not self._starts:
            self._lines = self.text.splitlines(keepends=True)
            self._starts = list(accumulate(map(len, self._lines), initial=0))
        index = bisect_right(self._starts, offset) - 1
        line = self._lines[index].splitlines()
        return index + 1, offset - self._starts[index] + 1, line[0] if line else ""

    def allow_comments(self) -> list[tuple[int, int]]:
        """``(line, column)`` of each ``# envres: allow-literal`` comment (first per line)."""
        if "allow-literal" not in self.text:
            return []
        seen: dict[int, int] = {}
        for m in _ALLOW.finditer(self.text):
            line_no, _, line = self._place(m.start())
            # Read again on its own line: over the whole text, \s* can cross a line end.
            on_line = _ALLOW.search(line) if line_no not in seen else None
            if on_line is not None:
                seen[line_no] = on_line.start() + 1
        return list(seen.items())

    def credentials(self) -> list[tuple[int, CredentialShape]]:
        """``(line, shape)`` of each credential-shaped stretch, by line then column."""
        out: list[tuple[int, CredentialShape]] = []
        done: set[int] = set()
        for offset in credential_offsets(self.text):
            line_no, _, line = self._place(offset)
            if line_no not in done:
                done.add(line_no)
                out.extend((line_no, found) for found in credential_shapes(line))
        return out


def _chain_texts(
    profile: ResolvedProfile, files: Mapping[str, ProfileFile], read: Callable[[Path], bytes]
) -> dict[str, _Text]:
    """The text of every file the profile was merged from, by display name."""
    out: dict[str, _Text] = {}
    for name in profile.merged.chain:
        pf = files.get(name)
        if pf is None:
            continue
        try:
            text = read(pf.path).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):  # it was read to validate; a race at worst
            continue
        out[pf.display] = _Text(text)
    return out
