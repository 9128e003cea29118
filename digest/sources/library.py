"""A subscriber's own papers, as they give them: arXiv ids or links, DOIs or titles pasted one
a line, or a BibTeX, RIS or CSL-JSON file (what Zotero, Mendeley and Google Scholar export).

Each entry becomes a `SeedEntry` with what it says: an arXiv id, a DOI, a title, an abstract,
authors. An entry that cannot be read carries its `problem` and where it is (`line 4`,
`entry 3 (line 17)`), so every bad entry gets its own message; a file that is not text or
none of the three formats is refused whole (`UnreadableLibrary`). Nothing here looks
anything up: an entry without text is resolved later (the store, then arXiv's API).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from digest.errors import DigestError
from digest.papers import (
    MAX_ABSTRACT,
    MAX_DOI,
    MAX_NAME,
    MAX_TITLE,
    normalise_arxiv_id,
)
from digest.text import disallowed_in, readable

MAX_ENTRIES = 1000  # in one submission; a subscriber keeps fewer (DIGEST_SEED_PAPERS_MAX)
MAX_LINE = 2000  # characters of one pasted line
MAX_AUTHORS_KEPT = 50  # ranking reads authors; a collaboration's thousands add nothing
JSON_DEPTH = 12

BIBTEX, RIS, CSL_JSON, LINES = "BibTeX", "RIS", "CSL-JSON", "lines"

_ARXIV_LINK = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?(?:arxiv\.org/(?:abs|pdf|html)|alphaxiv\.org/(?:abs|overview)"
    r"|huggingface\.co/papers)/(?P<id>[^?#\s]+?)(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_ARXIV_PREFIX = re.compile(r"^arxiv\s*:\s*", re.IGNORECASE)
_ARXIV_IN_TEXT = re.compile(
    r"arxiv[\s:./]*(?:abs/)?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z.-]*/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
_DOI = re.compile(r"^(?:doi\s*:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_LOOKS_LIKE_ARXIV = re.compile(r"^(?:arxiv\s*:\s*)?\d{4}\.\d+(?:v\d+)?$", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_BIBTEX_START = re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_BRACES = re.compile(r"(?<!\\)[{}]")
_FONT_SWITCH = re.compile(r"\\(?:em|bf|it|sc|rm|tt|sl|sf|normalfont|small|large)\b\s*")


class UnreadableLibrary(DigestError):
    """A file that is not text, or none of the formats read here, or too large."""


@dataclass(frozen=True)
class SeedEntry:
    """One paper as the subscriber gave it; `problem` says why it cannot be used."""

    where: str
    arxiv_id: str | None = None
    doi: str | None = None
    title: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def has_text(self) -> bool:
        """Title and abstract given: used as they are, looked up nowhere."""
        return bool(self.title and self.abstract)

    def describe(self) -> str:
        """What the entry names, for messages: its id, DOI or the start of its title."""
        if self.arxiv_id:
            return f"arXiv:{self.arxiv_id}"
        if self.doi:
            return f"doi:{self.doi}"
        return f"'{self.title[:60]}{'…' if len(self.title) > 60 else ''}'"


@dataclass(frozen=True)
class ParsedLibrary:
    format: str
    entries: list[SeedEntry] = field(default_factory=list)


def parse_submission(pasted: str, upload: bytes | None, filename: str | None) -> ParsedLibrary:
    """What one submission gives: the pasted text and, if any, the uploaded file, in order.

    Pasted text that is itself a BibTeX, RIS or CSL-JSON export is read as one."""
    parsed: list[ParsedLibrary] = []
    if pasted.strip():
        parsed.append(parse_text(pasted, None, pasted=True))
    if upload:
        parsed.append(parse_file(upload, filename))
    if not parsed:
        return ParsedLibrary(LINES)
    if len(parsed) == 1:
        return parsed[0]
    first, second = parsed
    tagged = [replace(e, where=f"{e.where} of the file") for e in second.entries]
    return ParsedLibrary(f"{first.format} and {second.format}", first.entries + tagged)


def parse_file(data: bytes, filename: str | None) -> ParsedLibrary:
    """A BibTeX, RIS or CSL-JSON export (by its name, else by its content)."""
    if b"\x00" in data:
        raise UnreadableLibrary("the file holds NUL bytes: it is not a text export")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableLibrary(
            f"the file is not UTF-8 text (byte {exc.start + 1}); export it as UTF-8"
        ) from None
    return parse_text(text, filename, pasted=False)


def parse_text(text: str, filename: str | None, *, pasted: bool) -> ParsedLibrary:
    kind = _format_of(text, filename)
    if kind is None:
        if pasted:
            return ParsedLibrary(LINES, _lines(text))
        raise UnreadableLibrary(
            "the file is not a BibTeX, RIS or CSL-JSON export (name it .bib, .ris or .json)"
        )
    entries = {BIBTEX: _bibtex, RIS: _ris, CSL_JSON: _csl_json}[kind](text)
    if len(entries) > MAX_ENTRIES:
        raise UnreadableLibrary(f"{len(entries)} entries: at most {MAX_ENTRIES} at a time")
    return ParsedLibrary(kind, entries)


def _format_of(text: str, filename: str | None) -> str | None:
    suffix = (filename or "").lower().rsplit(".", 1)[-1] if filename and "." in filename else ""
    by_name = {"bib": BIBTEX, "bibtex": BIBTEX, "ris": RIS, "json": CSL_JSON, "csljson": CSL_JSON}
    if suffix in by_name:
        return by_name[suffix]
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith(("[", "{")):
        return CSL_JSON
    if _BIBTEX_START.search(text):
        return BIBTEX
    if any(_RIS_LINE.match(line) and line.startswith("TY") for line in text.splitlines()[:50]):
        return RIS
    return None


# --- pasted lines ----------------------------------------------------------------------


def _lines(text: str) -> list[SeedEntry]:
    entries: list[SeedEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "%")):
            continue
        where = f"line {number}"
        if len(entries) >= MAX_ENTRIES:
            raise UnreadableLibrary(
                f"more than {MAX_ENTRIES} lines: at most {MAX_ENTRIES} at a time"
            )
        entries.append(_line(line, where))
    return entries


def _line(line: str, where: str) -> SeedEntry:
    if len(line) > MAX_LINE:
        return SeedEntry(where, problem=f"the line is {len(line)} characters long")
    if disallowed_in(line):
        return SeedEntry(where, problem="the line holds a control character")
    arxiv_id = arxiv_id_in(line)
    if arxiv_id:
        return SeedEntry(where, arxiv_id=arxiv_id)
    doi = doi_in(line)
    if doi:
        from_doi = _arxiv_of_doi(doi)
        return SeedEntry(where, arxiv_id=from_doi, doi=doi)
    if _URL.match(line) or line.lower().startswith("www."):
        return SeedEntry(
            where,
            problem="a link to neither arXiv nor doi.org (give the paper's arXiv or DOI link)",
        )
    if _LOOKS_LIKE_ARXIV.match(line):
        return SeedEntry(where, problem=f"'{line[:40]}' is not an arXiv id (like 2401.01234)")
    title = readable(line)
    if len(title) > MAX_TITLE:
        return SeedEntry(where, problem=f"a title of {len(title)} characters (at most {MAX_TITLE})")
    if len(title) < 4:
        return SeedEntry(where, problem=f"'{title}' is too short to be a title")
    return SeedEntry(where, title=title)


def arxiv_id_in(value: str) -> str | None:
    """The versionless arXiv id of an id, `arXiv:` id or arXiv / alphaXiv / HF paper link."""
    value = value.strip().strip("<>")
    link = _ARXIV_LINK.match(value)
    candidate = link.group("id") if link else _ARXIV_PREFIX.sub("", value)
    return normalise_arxiv_id(candidate)


def doi_in(value: str) -> str | None:
    """The DOI (lower case) of `10.…`, `doi:10.…` or a doi.org link, or None."""
    found = _DOI.match(value.strip().strip("<>"))
    if not found:
        return None
    doi = found.group(1).rstrip(".,;").lower()
    return doi if len(doi) <= MAX_DOI and not disallowed_in(doi) else None


def _arxiv_of_doi(doi: str) -> str | None:
    """arXiv's own DOIs (10.48550/arXiv.2401.01234) name an arXiv id."""
    found = _ARXIV_DOI.match(doi)
    return normalise_arxiv_id(found.group(1)) if found else None


# --- one reference, whatever the format ------------------------------------------------


def _entry(
    where: str,
    *,
    title: str,
    abstract: str,
    authors: Sequence[str],
    doi: str,
    hints: Sequence[str],
) -> SeedEntry:
    """An entry from a file's fields; `hints` are fields that may carry an arXiv id."""
    values = [title, abstract, doi, *authors, *hints]
    if any(disallowed_in(value) for value in values):
        return SeedEntry(where, problem="a field holds a control character")
    title, abstract = _plain(title), _plain(abstract)
    if len(title) > MAX_TITLE:
        return SeedEntry(
            where, problem=f"the title is {len(title)} characters (at most {MAX_TITLE})"
        )
    if len(abstract) > MAX_ABSTRACT:
        return SeedEntry(
            where, problem=f"the abstract is {len(abstract)} characters (at most {MAX_ABSTRACT})"
        )
    names = tuple(
        name
        for name in (_person(_plain(a)) for a in authors[:MAX_AUTHORS_KEPT])
        if 0 < len(name) <= MAX_NAME
    )
    found_doi = doi_in(doi) if doi.strip() else None
    arxiv_id = _arxiv_of_doi(found_doi) if found_doi else None
    for hint in hints:
        if arxiv_id:
            break
        arxiv_id = arxiv_id_in(hint) or _arxiv_in_text(hint)
    entry = SeedEntry(where, arxiv_id, found_doi, title, abstract, names)
    if not (entry.title or entry.arxiv_id or entry.doi):
        return replace(entry, problem="no title, arXiv id or DOI")
    return entry


def _arxiv_in_text(text: str) -> str | None:
    found = _ARXIV_IN_TEXT.search(text)
    return normalise_arxiv_id(found.group(1)) if found else None


def _plain(value: str) -> str:
    """LaTeX and BibTeX's protective braces made plain text, whitespace collapsed."""
    value = _FONT_SWITCH.sub("", value)
    return " ".join(_BRACES.sub("", readable(value)).split())


def _person(name: str) -> str:
    """`Last, First` as `First Last` (BibTeX and RIS write names so)."""
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if comma and "," not in first else name


# --- BibTeX ----------------------------------------------------------------------------


class _BibError(Exception):
    pass


def _bibtex(text: str) -> list[SeedEntry]:
    entries: list[SeedEntry] = []
    number = 0
    for start in _entry_starts(text):
        kind_match = re.compile(r"@\s*([A-Za-z]+)\s*([{(])").match(text, start)
        if kind_match is None:
            continue
        kind = kind_match.group(1).lower()
        if kind in ("comment", "preamble", "string"):
            continue
        number += 1
        line = text.count("\n", 0, start) + 1
        where = f"entry {number} (line {line})"
        try:
            fields = _bib_fields(text, kind_match.end(), kind_match.group(2))
        except _BibError as exc:
            entries.append(SeedEntry(where, problem=f"cannot be read: {exc}"))
            continue
        entries.append(
            _entry(
                where,
                title=fields.get("title", ""),
                abstract=fields.get("abstract", ""),
                authors=_bib_authors(fields.get("author", "")),
                doi=fields.get("doi", ""),
                hints=[
                    fields.get("eprint", "") if _is_arxiv_eprint(fields) else "",
                    fields.get("url", ""),
                    fields.get("journal", ""),
                    fields.get("note", ""),
                    fields.get("howpublished", ""),
                ],
            )
        )
    return entries


def _entry_starts(text: str) -> Iterator[int]:
    """Where each `@type{` starts: BibTeX reads only those and ignores text between them."""
    for found in re.finditer(r"(?m)^\s*(@)", text):
        yield found.start(1)


def _is_arxiv_eprint(fields: Mapping[str, str]) -> bool:
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").lower()
    return prefix == "arxiv"


def _bib_fields(text: str, position: int, opener: str) -> dict[str, str]:
    """The fields of the entry whose body starts at `position` (after `{` or `(`)."""
    closer = "}" if opener == "{" else ")"
    end = len(text)
    key_end = text.find(",", position)
    close_at = text.find(closer, position)
    if key_end < 0 or (0 <= close_at < key_end):
        raise _BibError("no citation key followed by a comma")
    position = key_end + 1
    fields: dict[str, str] = {}
    name_pattern = re.compile(r"\s*([A-Za-z][\w:.+-]*)\s*=\s*")
    while True:
        position = _skip_space(text, position)
        if position >= end:
            raise _BibError("the entry never ends (a missing closing brace?)")
        if text[position] == closer:
            return fields
        found = name_pattern.match(text, position)
        if found is None:
            raise _BibError(
                f"a field name was expected at line {text.count(chr(10), 0, position) + 1}"
            )
        value, position = _bib_value(text, found.end())
        fields[found.group(1).lower()] = value
        position = _skip_space(text, position)
        if position < end and text[position] == ",":
            position += 1
        elif position < end and text[position] != closer:
            raise _BibError(
                f"a comma was expected after the field {found.group(1)!r} "
                f"at line {text.count(chr(10), 0, position) + 1}"
            )


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _bib_value(text: str, position: int) -> tuple[str, int]:
    """A value: `{…}` (nested braces), `"…"`, a number or a macro name, `#`-joined."""
    parts: list[str] = []
    while True:
        position = _skip_space(text, position)
        if position >= len(text):
            raise _BibError("a field's value never ends")
        char = text[position]
        if char == "{":
            value, position = _balanced(text, position + 1, "}")
        elif char == '"':
            value, position = _balanced(text, position + 1, '"')
        else:
            found = re.compile(r"[\w.:+-]+").match(text, position)
            if found is None:
                raise _BibError(
                    f"a value was expected at line {text.count(chr(10), 0, position) + 1}"
                )
            value, position = found.group(0), found.end()
        parts.append(value)
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "#":
            position += 1
            continue
        return "".join(parts), position


def _balanced(text: str, position: int, closer: str) -> tuple[str, int]:
    depth = 0
    start = position
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}" and (depth > 0 or closer != "}"):
            depth -= 1
            if depth < 0:
                raise _BibError("a closing brace without its opening one")
        elif char == closer and depth == 0:
            return text[start:position], position + 1
        position += 1
    raise _BibError(
        f"a value opened at line {text.count(chr(10), 0, start) + 1} never closes "
        "(a missing brace or quote?)"
    )


def _bib_authors(value: str) -> list[str]:
    names = re.split(r"\s+and\s+", " ".join(value.split())) if value.strip() else []
    return [name for name in names if name.lower() != "others"]


# --- RIS -------------------------------------------------------------------------------


def _ris(text: str) -> list[SeedEntry]:
    entries: list[SeedEntry] = []
    fields: dict[str, list[str]] | None = None
    last_tag = ""
    started = 0
    for number, line in enumerate(text.splitlines(), start=1):
        tagged = _RIS_LINE.match(line.rstrip())
        if tagged is None:
            if fields is not None and last_tag and line.strip():
                fields[last_tag][-1] += " " + line.strip()  # a value wrapped onto more lines
            continue
        tag, value = tagged.group(1), (tagged.group(2) or "").strip()
        if tag == "TY":
            if fields is not None:
                entries.append(_ris_entry(fields, len(entries) + 1, started, ended=False))
            fields, started, last_tag = {}, number, ""
            continue
        if fields is None:
            continue
        if tag == "ER":
            entries.append(_ris_entry(fields, len(entries) + 1, started, ended=True))
            fields, last_tag = None, ""
            continue
        fields.setdefault(tag, []).append(value)
        last_tag = tag
    if fields is not None:
        entries.append(_ris_entry(fields, len(entries) + 1, started, ended=False))
    return entries


def _ris_entry(fields: dict[str, list[str]], number: int, line: int, *, ended: bool) -> SeedEntry:
    where = f"entry {number} (line {line})"
    if not ended:
        return SeedEntry(where, problem="the entry has no end (an `ER  -` line)")

    def first(*tags: str) -> str:
        return next((fields[tag][0] for tag in tags if fields.get(tag)), "")

    return _entry(
        where,
        title=first("TI", "T1", "CT", "BT"),
        abstract=" ".join(fields.get("AB", []) or fields.get("N2", [])),
        authors=[*fields.get("AU", []), *fields.get("A1", [])],
        doi=first("DO"),
        hints=[*fields.get("UR", []), *fields.get("L1", []), *fields.get("L2", []),
               *fields.get("N1", []), *fields.get("M1", []), *fields.get("M3", []),
               *fields.get("ID", [])],
    )  # fmt: skip


# --- CSL-JSON --------------------------------------------------------------------------


def _csl_json(text: str) -> list[SeedEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableLibrary(
            f"the JSON cannot be read: {exc.msg} at line {exc.lineno}"
        ) from None
    except RecursionError:
        raise UnreadableLibrary("the JSON is nested too deeply to be a CSL-JSON export") from None
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list):
        raise UnreadableLibrary("the JSON is not a list of references (CSL-JSON)")
    if len(data) > MAX_ENTRIES:
        raise UnreadableLibrary(f"{len(data)} entries: at most {MAX_ENTRIES} at a time")
    return [_csl_entry(item, number) for number, item in enumerate(data, start=1)]


def _csl_entry(item: object, number: int) -> SeedEntry:
    where = f"entry {number}"
    if not isinstance(item, dict):
        return SeedEntry(where, problem="not a reference (a JSON object)")
    text = _csl_text
    authors = [_csl_name(name) for name in item.get("author", []) if isinstance(name, dict)]
    return _entry(
        where,
        title=text(item.get("title")),
        abstract=text(item.get("abstract")),
        authors=[name for name in authors if name],
        doi=text(item.get("DOI")),
        hints=[text(item.get(key)) for key in ("URL", "number", "id", "archive_location", "note")],
    )


def _csl_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _csl_name(name: Mapping[str, Any]) -> str:
    if isinstance(name.get("literal"), str):
        return str(name["literal"])
    given, family = _csl_text(name.get("given")), _csl_text(name.get("family"))
    return f"{given} {family}".strip()
