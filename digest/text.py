"""Readable titles and abstracts: whitespace collapsed, text-mode LaTeX turned into plain text.

Math stays as the authors wrote it unless it is simple enough to print in Unicode
(`$\\alpha$-divergence` reads as alpha-divergence in Greek, `$O(n \\log n)$` is kept as
is), because a half-converted formula is worse than the original.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

_FORMATTING = re.compile(
    r"\\(?:emph|textit|textbf|texttt|textsc|textrm|textsf|text|mbox|underline)\s*\{([^{}]*)\}"
)
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    '"': "\u0308",
    "^": "\u0302",
    "~": "\u0303",
    "c": "\u0327",
}
_ACCENT = re.compile(r"\{?\\(['`\"^~]|c(?=[\s{]))\s*\{?([A-Za-z])\}?\}?")
_ESCAPED = re.compile(r"\\([&%_#$])")
# Not across a space right inside the dollars, so "$5 and $10" is left alone.
_MATH = re.compile(r"(?<!\\)\$(?!\s)([^$]+?)(?<![\s\\])\$")
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",  # noqa: RUF001
    "zeta": "ζ", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",  # noqa: RUF001
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ",  # noqa: RUF001
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ",
    "Lambda": "Λ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "times": "×", "cdot": "·", "pm": "±", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",  # noqa: RUF001
    "neq": "≠", "approx": "≈", "sim": "∼", "infty": "∞", "to": "→", "rightarrow": "→",  # noqa: RUF001
    "leftarrow": "←", "in": "∈", "ell": "ℓ", "partial": "∂", "nabla": "∇",  # noqa: RUF001
}  # fmt: skip
_SYMBOL = re.compile(r"\\([A-Za-z]+)(?![A-Za-z])\s*")
_SUPERSCRIPT = re.compile(r"\^\{?([0-9n+-])\}?")
_SUPERSCRIPTS = str.maketrans("0123456789n+-", "⁰¹²³⁴⁵⁶⁷⁸⁹ⁿ⁺⁻")
_SUBSCRIPT = re.compile(r"_\{?([0-9])\}?")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


# What a person may type, checked the same way by the web's forms and links and by the
# import. Textareas (topics, authors) may hold line breaks; a link never does.
FORM_CONTROLS = frozenset("\t\n\r")
# Unicode's noncharacters U+FDD0..U+FDEF and the last two code points of every plane.
NONCHARACTERS = frozenset(
    [
        *map(chr, range(0xFDD0, 0xFDF0)),
        *(chr(p + off) for p in range(0, 0x110000, 0x10000) for off in (0xFFFE, 0xFFFF)),
    ]
)


def disallowed_character(text: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """A description of the first character of `text` refused at the boundary, or None.

    Refused: control characters (C0, DEL and C1) other than those in `allowed`, lone
    surrogates, and Unicode noncharacters.
    """
    if text.isprintable():  # the common case, at C speed: none of the above in it
        return None
    for char in text:
        if char in allowed:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            return "a control character"
        if category == "Cs":
            return "a broken character (a lone surrogate)"
        if char in NONCHARACTERS:
            return "a character that is not text"
    return None


# What no text from outside may carry: C0 controls but tab, newline and carriage return,
# DEL and the C1 controls, lone surrogates (json.loads lets "\\ud800" through; no database
# can store one), and the noncharacters U+FFFE and U+FFFF.
_DISALLOWED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
JSON_DEPTH = 32  # deeper than any field we read; a deeper value is dropped, never walked


def clean_text(value: str) -> str:
    """`value` without the code points no source text may carry (NUL, controls, surrogates)."""
    return _DISALLOWED.sub("", value)


def disallowed_in(value: str) -> bool:
    """Whether `value` holds a code point `clean_text` removes."""
    return _DISALLOWED.search(value) is not None


def clean_json(value: object, depth: int = 0) -> object:
    """A decoded JSON value with every string (keys too) cleaned; deeper than JSON_DEPTH is None."""
    if isinstance(value, str):
        return clean_text(value)
    if depth >= JSON_DEPTH:
        return None
    if isinstance(value, list):
        return [clean_json(entry, depth + 1) for entry in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    return value


def collapse_whitespace(value: str) -> str:
    """Runs of whitespace (newlines included) as one space, trimmed."""
    return " ".join(value.split())


def readable(value: str) -> str:
    """Whitespace collapsed and text-mode LaTeX (emphasis, accents, escapes) made plain."""
    cleaned = collapse_whitespace(value)
    if "\\" not in cleaned and "$" not in cleaned and "--" not in cleaned and "``" not in cleaned:
        return cleaned
    cleaned = _MATH.sub(_simple_math, cleaned)
    for _ in range(3):  # nested \emph{\textbf{…}}
        cleaned = _FORMATTING.sub(r"\1", cleaned)
    cleaned = _ACCENT.sub(_accented, cleaned)
    cleaned = _ESCAPED.sub(r"\1", cleaned)
    cleaned = cleaned.replace("---", "—").replace("--", "–")  # noqa: RUF001
    cleaned = cleaned.replace("``", "“").replace("''", "”")
    return collapse_whitespace(cleaned)


def _accented(match: re.Match[str]) -> str:
    mark = _ACCENTS[match.group(1).strip()]
    return unicodedata.normalize("NFC", match.group(2) + mark)


def _simple_math(match: re.Match[str]) -> str:
    formula = match.group(1)
    converted = _SYMBOL.sub(lambda m: _SYMBOLS.get(m.group(1), m.group(0)), formula)
    converted = _SUPERSCRIPT.sub(lambda m: m.group(1).translate(_SUPERSCRIPTS), converted)
    converted = _SUBSCRIPT.sub(lambda m: m.group(1).translate(_SUBSCRIPTS), converted)
    if any(mark in converted for mark in "\\{}^_"):
        return match.group(0)
    return converted


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(value: str) -> str:
    """The text of an HTML fragment (tags dropped, entities decoded), whitespace collapsed."""
    if "<" not in value and "&" not in value:
        return collapse_whitespace(value)
    parser = _TextOnly()
    parser.feed(value)
    parser.close()
    return collapse_whitespace("".join(parser.parts))


# 18 digits always fit a 64-bit integer, and a longer number is never one we asked for.
MAX_NUMBER_DIGITS = 18


def whole_number(text: str, max_digits: int = MAX_NUMBER_DIGITS) -> int | None:
    """`text` as a whole number if it is 1 to `max_digits` ASCII digits, else None.

    Stricter than `int()`, which also takes signs, spaces, underscores and digits of every
    script ("٣"), and than `str.isdigit()`, which is also true of "²" that `int()` refuses.
    """
    if not 0 < len(text) <= max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
