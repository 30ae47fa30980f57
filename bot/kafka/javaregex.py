"""Java regular expressions as MirrorMaker 2 reads them, checked and run in Python.

MM2 topic lists are comma-separated Java regexes, each matched against the whole topic name.
`compile_java` accepts the subset whose meaning is the same in Java and Python (translating the
few spellings that differ, like `\\Q...\\E` and `(?<name>...)`) and rejects, with the pattern and
the problem quoted, what is invalid in Java or would match differently here.
"""

from __future__ import annotations

import re

from bot.errors import UserError, shown

# escapes after a backslash whose meaning is the same in both engines
_SAME_ESCAPES = set("dDwWsSbBtnrfaA0123456789xu")
_JAVA_ONLY = {
    "p": "\\p{...} character properties",
    "P": "\\P{...} character properties",
    "h": "\\h (horizontal whitespace)",
    "H": "\\H",
    "v": "\\v (Java: any vertical whitespace, Python: only \\x0b)",
    "V": "\\V",
    "R": "\\R (line break)",
    "X": "\\X (grapheme cluster)",
    "G": "\\G (end of previous match)",
    "k": "\\k<name> back-references",
    "c": "\\c control characters",
    "e": "\\e (escape character)",
    "N": "\\N{...} named characters",
}
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")


class RegexError(UserError):
    pass


def compile_java(pattern: str) -> re.Pattern[str]:
    """Translate and compile one Java regex; RegexError quotes the pattern and the problem."""
    try:
        python = _translate(pattern)
        return re.compile(python, re.ASCII)
    except RecursionError:
        raise _fail(pattern, "nesting too deep") from None
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise RegexError(f"invalid regex {shown(pattern)}: {exc.msg}{where}") from None


def _fail(pattern: str, problem: str) -> RegexError:
    return RegexError(f"invalid regex {shown(pattern)}: {problem}")


def _translate(pattern: str) -> str:  # noqa: C901 - one pass over the pattern, case by case
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = 0
    atom_before = False  # is there something a quantifier could apply to?
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise _fail(pattern, "ends with a lone backslash")
            nxt = pattern[i + 1]
            if nxt == "Q":  # \Q...\E quotes literally
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 : end if end >= 0 else n]
                out.append(re.escape(literal))
                i = end + 2 if end >= 0 else n
                atom_before = True
                continue
            if nxt in ("z", "Z"):
                if in_class:
                    raise _fail(pattern, f"\\{nxt} inside a character class")
                out.append(r"\Z")  # topic names hold no line terminators: both mean the end
            elif nxt in _JAVA_ONLY:
                raise _fail(pattern, f"{_JAVA_ONLY[nxt]} is Java-only and cannot be checked here")
            elif nxt == "0" and i + 2 < n and pattern[i + 2].isdigit():
                raise _fail(pattern, "octal escapes (\\0nn) differ between Java and Python")
            elif nxt.isalpha() and nxt not in _SAME_ESCAPES:
                raise _fail(pattern, f"unknown escape \\{nxt}")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            atom_before = True
            continue
        if in_class:
            if ch == "[":
                raise _fail(
                    pattern,
                    "a '[' inside a character class is a nested class (union) in "
                    "Java but a plain '[' in Python: escape it as \\[",
                )
            if ch == "&" and pattern.startswith("&&", i):
                raise _fail(
                    pattern,
                    "'&&' inside a character class is an intersection in Java; "
                    "Python reads it literally",
                )
            if ch == "]" and i > class_start:
                in_class = False
                atom_before = True
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_start = i  # a ']' right here is a literal
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if ch == "{":
            match = _QUANTIFIER.match(pattern, i)
            if not match:
                raise _fail(
                    pattern,
                    f"'{{' at position {i} is not a repetition like {{2}} or "
                    "{1,3}; Java refuses it (escape a literal brace as \\{)",
                )
            if not atom_before:
                raise _fail(pattern, f"nothing to repeat at position {i}")
            if match.group(3) and int(match.group(3)) < int(match.group(1)):
                raise _fail(pattern, f"repetition {match.group(0)} has max below min")
            out.append(match.group(0))
            i = match.end()
            continue
        if ch == "(" and pattern.startswith("(?", i):
            if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
                out.append("(?P<")  # Java named group spelling
                i += 3
                atom_before = False
                continue
            flags = _INLINE_FLAGS.match(pattern, i)
            if not flags and pattern[i + 2 : i + 3] not in (":", "=", "!", "<", ">"):
                shown_at = pattern[i : i + 3]
                raise _fail(pattern, f"unknown inline modifier {shown_at!r} (Java refuses it)")
            if flags and not pattern.startswith(("(?:", "(?)"), i):
                used = set(flags.group(1) + (flags.group(2) or ""))
                unsupported = used - set("ims")
                if unsupported:
                    raise _fail(
                        pattern,
                        f"inline flag(s) {''.join(sorted(unsupported))} differ "
                        "between Java and Python (only i, m, s are accepted)",
                    )
                if flags.group(2) is not None and flags.group(3) == ")":
                    raise _fail(
                        pattern,
                        "turning flags off for the rest of the pattern "
                        "('(?-i)') is Java-only: use a scoped group '(?-i:...)'",
                    )
        out.append(ch)
        atom_before = ch not in "(|"
        i += 1
    if in_class:
        raise _fail(pattern, "unterminated character class '['")
    return "".join(out)
