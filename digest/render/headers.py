"""Header values we write, built so that no text can become a header or change meaning.

Text from outside (a paper title in the subject, a list or display name) is text: a reader
must see exactly what was given. The email package's header factory parses a value before
it folds it, decoding any RFC 2047 encoded word in it (`=?utf-8?q?Hi=0D=0AX-Evil=3A_1?=`),
and whether the folded result then carries a real line break depends on the patch release
(3.11.7 and 3.12.1 write one; 3.11.2 and 3.13.0 re-encode it, still not showing the text).
So values are made here, never by the email package: plain ASCII words as they are, any
other word (non-ASCII, holding `=?` or `?=`, odd spacing, too long) as UTF-8 encoded words
made here, folded only between words; and every value is checked after folding
(`checked`), by the builders and again by the writers in `digest.render.mime`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence

from digest.addresses import is_plain_address, unsendable_reason

FOLD_AT = 78  # RFC 5322 2.1.1: lines SHOULD be no longer; encoded words always fit
LINE_MAX = 998  # ... and MUST be no longer, counting the name on the first line
ENCODED_WORD_MAX = 75  # RFC 2047 §2
PLAIN_WORD_MAX = 60  # longer words are encoded, so they can be split across lines
_PREFIX = {"q": "=?utf-8?q?", "b": "=?utf-8?b?"}
_OVERHEAD = len("=?utf-8?q?") + len("?=")
# Every character may need 12 (a 4-byte UTF-8 character, Q-encoded): room for one at least.
_MIN_WORD = _OVERHEAD + 12

FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")  # RFC 5322 2.2: printable ASCII but ':'
# What text may not hold: C0 and C1 controls (CR, LF, NUL, TAB included), DEL, the Unicode
# line and paragraph separators (str.splitlines breaks on them) and unpaired surrogates.
_REFUSED_IN_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# What a folded line may not hold: 7-bit, only printable ASCII, space and tab...
_NOT_ASCII_LINE = re.compile(r"[^\t\x20-\x7e]")
# ... or, for an SMTPUTF8 address, no control, separator or surrogate either.
_NOT_UTF8_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ATEXT_WORD = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 3.2.3
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_MAILBOX = re.compile(r"\s*(?:(?P<name>[^<>]*?)\s*<(?P<angle>[^<>]*)>|(?P<bare>[^<>\s]+))\s*")
_ANGLE_ITEM = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")  # one <…> of printable ASCII, no <>
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
ANGLE_LIST_HEADERS = frozenset({"list-unsubscribe", "list-help", "list-post", "list-archive"})
ID_HEADERS = frozenset({"message-id", "in-reply-to", "references"})


class UnsafeHeader(ValueError):
    """A header value that cannot be written as given: a control character or line break,
    an unusable address, or a result that would not be one well-formed header."""


def header_value(name: str, value: str) -> str:
    """`value` made ready to write under `name`, by the kind of header `name` is."""
    kind = name.lower()
    if kind in ADDRESS_HEADERS:
        return mailbox_value(name, value)
    if kind == "list-id":
        return list_id_value(value)
    if kind in ANGLE_LIST_HEADERS:
        return angle_list_value(name, _ANGLE_ITEM.findall(value), whole=value)
    if kind in ID_HEADERS:
        return angle_list_value(name, _ANGLE_ITEM.findall(value), whole=value, commas=False)
    return text_value(name, value)


def text_value(name: str, text: str) -> str:
    """An unstructured value (Subject) that every reader decodes back to exactly `text`."""
    _refuse_controls(name, text)
    return checked(name, _fold(name, _tokens(text, _is_plain_text)))


def mailbox_value(name: str, value: str) -> str:
    """`Display Name <address>` (quoted or not) or a bare address, as `mailbox` writes it."""
    _refuse_controls(name, value)
    found = _MAILBOX.fullmatch(value)
    if found is None:
        raise UnsafeHeader(
            f"the {name} address cannot be sent to: not 'address' or 'Name <address>'"
        )
    return mailbox(name, found["angle"] or found["bare"] or "", _unquoted(found["name"] or ""))


def mailbox(name: str, address: str, display: str = "") -> str:
    """`Display <address>`, the name encoded as text, or the bare address: the address must
    read back unchanged (raw UTF-8 when it needs SMTPUTF8). Errors do not repeat it."""
    _refuse_controls(name, display)
    problem = None if is_plain_address(address) else unsendable_reason(address)
    if "@" not in address:
        problem = "an email address needs an @ and a domain"
    if problem is not None:
        raise UnsafeHeader(f"the {name} address cannot be sent to: {problem}")
    tokens = _tokens(display, _is_plain_atom)
    tokens.append((f"<{address}>" if display else address, False))
    return checked(name, _fold(name, tokens), utf8=not address.isascii())


def list_id_value(value: str) -> str:
    """`List name <list.id>` (RFC 2919) as `list_id` writes it."""
    found = _MAILBOX.fullmatch(value)
    if found is None or not found["angle"]:
        raise UnsafeHeader(f"List-Id must be 'List name <list.id>', got {value!r}")
    return list_id(_unquoted(found["name"]), found["angle"])


def list_id(description: str, identifier: str) -> str:
    """`description <identifier>`, the description encoded as text."""
    _refuse_controls("List-Id", description)
    if not _ANGLE_ITEM.fullmatch(f"<{identifier}>"):
        raise UnsafeHeader(f"a List-Id is printable ASCII without spaces, got {identifier!r}")
    tokens = _tokens(description, _is_plain_atom)
    tokens.append((f"<{identifier}>", False))
    return checked("List-Id", _fold("List-Id", tokens))


def angle_list_value(
    name: str, items: Sequence[str], *, whole: str | None = None, commas: bool = True
) -> str:
    """'<a>,\\r\\n <b>': one item a line, for headers made of long unbreakable URLs or ids.

    With `whole`, the value the items were found in must be exactly those items."""
    written = (", " if commas else " ").join(items)
    if whole is not None and whole.strip() != written:
        raise UnsafeHeader(f"{name} must be a list of <…> items, got {whole!r}")
    if not items or not all(_ANGLE_ITEM.fullmatch(item) for item in items):
        raise UnsafeHeader(f"{name} must be a list of <…> items of printable ASCII")
    return checked(name, (",\r\n " if commas else "\r\n ").join(items))


def checked(name: str, value: str, *, utf8: bool = False) -> str:
    """`value` as folded, if `name: value` is exactly one well-formed header: lines joined
    by CRLF + space or tab only, none blank or past 998 bytes, no control character, and
    7-bit unless `utf8` (an SMTPUTF8 address); else UnsafeHeader."""
    if not FIELD_NAME.fullmatch(name):
        raise UnsafeHeader(f"{name!r} is not a header name")
    forbidden = _NOT_UTF8_LINE if utf8 else _NOT_ASCII_LINE
    for index, line in enumerate(value.split("\r\n")):
        bad = forbidden.search(line)
        if bad is not None:
            raise UnsafeHeader(f"{name} would hold U+{ord(bad.group()):04X} in a header line")
        if index and (line[:1] not in (" ", "\t") or not line.strip(" \t")):
            raise UnsafeHeader(f"{name} would end or start a header where it is folded")
        size = len(line.encode("utf-8", "surrogatepass")) + (len(name) + 2 if index == 0 else 0)
        if size > LINE_MAX:
            raise UnsafeHeader(f"{name} would have a line of {size} bytes (at most {LINE_MAX})")
    return value


def _refuse_controls(name: str, text: str) -> None:
    bad = _REFUSED_IN_TEXT.search(text)
    if bad is not None:
        raise UnsafeHeader(
            f"{name} cannot hold control characters, line breaks or unpaired surrogates"
            f" (U+{ord(bad.group()):04X} at {bad.start()})"
        )


def _unquoted(display: str) -> str:
    if len(display) >= 2 and display[0] == display[-1] == '"':
        return re.sub(r"\\(.)", r"\1", display[1:-1])
    return display


def _is_plain_text(word: str) -> bool:
    """A word an unstructured header may carry as is, read back unchanged by any decoder."""
    return (
        0 < len(word) <= PLAIN_WORD_MAX
        and word.isascii()
        and word.isprintable()
        and "=?" not in word
        and "?=" not in word
    )


def _is_plain_atom(word: str) -> bool:
    """A word a phrase (display or list name) may carry as is: an atom."""
    return _is_plain_text(word) and _ATEXT_WORD.fullmatch(word) is not None


Token = tuple[str, bool]  # (text, whether it is written as encoded words)


def _tokens(text: str, is_plain: Callable[[str], bool]) -> list[Token]:
    """`text` as plain words and runs to encode, each two separated by one of its spaces.

    The space between a plain word and an encoded word is text (RFC 2047 §6.2) and the
    one between two encoded words is not, so every other space (doubled, leading,
    trailing) goes inside an encoded word, where it is kept exactly."""
    if not text:
        return []
    words = text.split(" ")
    encode = [not is_plain(word) for word in words]
    last = len(words) - 1
    for index, word in enumerate(words):
        alone = (index == 0 or not encode[index - 1]) and (index == last or not encode[index + 1])
        if not word and alone and last:
            # An empty word (two spaces in a row) cannot be an encoded word of its own.
            encode[index - 1 if index else index + 1] = True
    tokens: list[Token] = []
    start = 0
    while start <= last:
        end = start + 1
        while encode[start] and end <= last and encode[end]:
            end += 1
        tokens.append((" ".join(words[start:end]), encode[start]))
        start = end
    return tokens


def _fold(name: str, tokens: Sequence[Token]) -> str:
    """The tokens joined by single spaces, folded before a word that would pass FOLD_AT."""
    pieces: list[str] = []
    column = len(name) + 2
    for text, encode in tokens:
        if not encode:
            column = _place(pieces, text, column)
            continue
        scheme = _scheme(text)
        rest = text
        while rest:
            room = FOLD_AT - column - (1 if pieces else 0)
            if room < _MIN_WORD:
                room = FOLD_AT - 1 if pieces else _MIN_WORD
            word, rest = _encoded_word(rest, min(room, ENCODED_WORD_MAX), scheme)
            column = _place(pieces, word, column)
    return "".join(pieces)


def _place(pieces: list[str], atom: str, column: int) -> int:
    if not pieces:
        pieces.append(atom)
        return column + len(atom)
    if column + 1 + len(atom) > FOLD_AT:
        pieces.append("\r\n " + atom)
        return 1 + len(atom)
    pieces.append(" " + atom)
    return column + 1 + len(atom)


def _q_length(data: bytes) -> int:
    return sum(1 if byte in _Q_SAFE or byte == 0x20 else 3 for byte in data)


def _scheme(text: str) -> str:
    """Q for mostly-ASCII text (readable in the raw header), B when that is shorter."""
    data = text.encode("utf-8")
    return "q" if _q_length(data) <= 4 * -(-len(data) // 3) else "b"


def _encoded_word(text: str, width: int, scheme: str) -> tuple[str, str]:
    """The longest head of `text` (whole characters, at least one) that fits an encoded
    word of at most `width` characters, encoded; and the rest."""
    budget = width - _OVERHEAD
    taken: list[bytes] = []
    size = used = 0
    for char in text:
        data = char.encode("utf-8")
        q_cost, b_cost = used + _q_length(data), 4 * -(-(size + len(data)) // 3)
        cost = q_cost if scheme == "q" else b_cost
        if taken and cost > budget:
            break
        taken.append(data)
        size += len(data)
        used = cost
    head = b"".join(taken)
    if scheme == "q":
        payload = "".join(
            "_" if byte == 0x20 else chr(byte) if byte in _Q_SAFE else f"={byte:02X}"
            for byte in head
        )
    else:
        payload = base64.b64encode(head).decode("ascii")
    return f"{_PREFIX[scheme]}{payload}?=", text[len(taken) :]
