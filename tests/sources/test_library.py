"""Reading what a subscriber gives as their own papers: pasted lines, BibTeX, RIS and
CSL-JSON (as Zotero, Mendeley and Google Scholar export them), and what cannot be read."""

from __future__ import annotations

import json

import pytest

from digest.sources.library import (
    BIBTEX,
    CSL_JSON,
    LINES,
    RIS,
    SeedEntry,
    UnreadableLibrary,
    parse_file,
    parse_submission,
)

LINK_HINT = "give the paper's arXiv or DOI link"


def entries(
    pasted: str = "", upload: bytes | None = None, name: str | None = None
) -> list[SeedEntry]:
    return parse_submission(pasted, upload, name).entries


@pytest.mark.parametrize(
    ("line", "arxiv_id"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.01234v3", "2401.01234"),
        ("arXiv:2401.01234", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234v2", "2401.01234"),
        ("http://export.arxiv.org/pdf/2401.01234v1.pdf", "2401.01234"),
        ("https://www.arxiv.org/pdf/2401.01234", "2401.01234"),
        ("https://arxiv.org/html/2401.01234v1", "2401.01234"),
        ("https://huggingface.co/papers/2401.01234", "2401.01234"),
        ("https://www.alphaxiv.org/abs/2401.01234", "2401.01234"),
        ("<https://arxiv.org/abs/hep-th/9901001>", "hep-th/9901001"),
        ("10.48550/arXiv.2401.01234", "2401.01234"),
        ("https://doi.org/10.48550/ARXIV.2401.01234", "2401.01234"),
    ],
)
def test_an_arxiv_id_in_any_of_its_usual_spellings(line: str, arxiv_id: str) -> None:
    [entry] = entries(line)
    assert (entry.arxiv_id, entry.problem) == (arxiv_id, None)


def test_pasted_lines_dois_titles_and_what_is_neither() -> None:
    found = entries(
        "# my papers\n\n10.1038/nature14539\ndoi: 10.1145/3442188.3445922.\n"
        "Attention Is All You Need\nhttps://example.com/paper.pdf\n2401.123\nab\n"
    )
    assert [(e.where, e.doi, e.title, e.problem) for e in found] == [
        ("line 3", "10.1038/nature14539", "", None),
        ("line 4", "10.1145/3442188.3445922", "", None),
        ("line 5", None, "Attention Is All You Need", None),
        ("line 6", None, "", f"a link to neither arXiv nor doi.org ({LINK_HINT})"),
        ("line 7", None, "", "'2401.123' is not an arXiv id (like 2401.01234)"),
        ("line 8", None, "", "'ab' is too short to be a title"),
    ]  # fmt: skip


GOOGLE_SCHOLAR = r"""
@string{icml = "ICML"}
@comment{exported by Google Scholar}
@article{vaswani2017attention,
  title={Attention is all you need},
  author={Vaswani, Ashish and Shazeer, Noam and others},
  journal={arXiv preprint arXiv:1706.03762},
  year={2017}
}
@inproceedings(ho2020,
  title = "Denoising {D}iffusion " # "Probabilistic Models",
  author = "Jonathan Ho and Ajay Jain",
  abstract = {We present {\em high} quality image synthesis with M\"{u}ller's $\alpha$-trick.},
  booktitle = icml,
  year = 2020,
)
@misc{zotero,
  title = {Caf{\'e} {Chats}},
  doi = {10.1000/XYZ.123},
  url = {https://doi.org/10.1000/xyz.123},
}
@article{broken,
  title = {Never closed,
  abstract = {x}
}
@article{after, title = {Read after the broken one}, eprint = {2006.11239}, archivePrefix = {arXiv}}
"""


def test_bibtex_as_scholar_zotero_and_hand_written_files_have_it() -> None:
    parsed = parse_file(GOOGLE_SCHOLAR.encode(), "library.bib")
    assert parsed.format == BIBTEX
    first, second, third, broken = parsed.entries[:4]
    assert (first.where, first.arxiv_id, first.title, first.authors) == (
        "entry 1 (line 4)",
        "1706.03762",
        "Attention is all you need",
        ("Ashish Vaswani", "Noam Shazeer"),
    )
    assert second.title == "Denoising Diffusion Probabilistic Models"
    alpha = "\N{GREEK SMALL LETTER ALPHA}"
    assert (
        second.abstract == f"We present high quality image synthesis with Müller's {alpha}-trick."
    )
    assert second.has_text and second.authors == ("Jonathan Ho", "Ajay Jain")
    assert (third.title, third.doi, third.arxiv_id) == ("Café Chats", "10.1000/xyz.123", None)
    assert broken.where == "entry 4 (line 22)" and broken.problem is not None
    assert broken.problem.startswith("cannot be read: ")
    # A broken entry costs only itself: reading goes on at the next one.
    assert parsed.entries[4].title == "Read after the broken one"
    assert parsed.entries[4].arxiv_id == "2006.11239"


def test_ris_with_wrapped_values_and_a_missing_end() -> None:
    ris = (
        "TY  - JOUR\r\nTI  - Deep learning\r\nAU  - LeCun, Yann\r\nAU  - Bengio, Yoshua\r\n"
        "DO  - 10.1038/nature14539\r\nAB  - Deep learning allows models\r\n"
        "  of many layers to learn.\r\nER  - \r\n"
        "TY  - PREPRINT\nT1  - Mistral 7B\nUR  - http://arxiv.org/abs/2310.06825\nER  -\n"
        "TY  - JOUR\nTI  - Cut short\n"
    )
    parsed = parse_file(ris.encode(), "export.ris")
    assert parsed.format == RIS
    deep, mistral, cut = parsed.entries
    assert deep.authors == ("Yann LeCun", "Yoshua Bengio")
    assert deep.abstract == "Deep learning allows models of many layers to learn."
    assert (deep.doi, deep.has_text) == ("10.1038/nature14539", True)
    assert (mistral.title, mistral.arxiv_id) == ("Mistral 7B", "2310.06825")
    assert cut.problem == "the entry has no end (an `ER  -` line)"


def test_zotero_csl_json() -> None:
    export = [
        {
            "id": "http://zotero.org/users/1/items/ABC",
            "type": "article",
            "title": "LoRA: Low-Rank Adaptation of Large Language Models",
            "URL": "http://arxiv.org/abs/2106.09685",
            "number": "arXiv:2106.09685",
            "author": [{"family": "Hu", "given": "Edward J."}, {"literal": "OpenAI"}],
            "abstract": "We freeze the weights.",
        },
        {"type": "book", "note": "no title"},
        "not an object",
    ]
    parsed = parse_file(json.dumps(export).encode("utf-8-sig"), "My Library.json")
    assert parsed.format == CSL_JSON
    lora, untitled, text = parsed.entries
    assert (lora.arxiv_id, lora.authors, lora.has_text) == (
        "2106.09685",
        ("Edward J. Hu", "OpenAI"),
        True,
    )
    assert untitled.problem == "no title, arXiv id or DOI"
    assert text.problem == "not a reference (a JSON object)"


def test_the_format_is_found_by_content_when_the_name_says_nothing() -> None:
    assert parse_file(b"@article{a, title={T}}", "export").format == BIBTEX
    assert parse_file(b"TY  - JOUR\nTI  - T\nER  - \n", None).format == RIS
    assert parse_file(b'[{"title": "T"}]', "x.txt").format == CSL_JSON
    assert parse_submission("@misc{a, title={Pasted bibtex}}", None, None).format == BIBTEX
    assert parse_submission("2401.01234", None, None).format == LINES


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x00\x01binary", "a.bib", "the file holds NUL bytes: it is not a text export"),
        (b"caf\xe9", "a.bib", "the file is not UTF-8 text (byte 4); export it as UTF-8"),
        (b"just notes", "notes.txt", "the file is not a BibTeX, RIS or CSL-JSON export"),
        (b"[1, 2", "a.json", "the JSON cannot be read: Expecting ',' delimiter at line 1"),
        (b"[" * 100_000, "a.json", "the JSON is nested too deeply to be a CSL-JSON export"),
        (b'{"title": ["not", "text"]}', "a.json", None),
        (json.dumps([{"title": str(i)} for i in range(1001)]).encode(), "a.json",
         "1001 entries: at most 1000 at a time"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_is_refused_whole(
    data: bytes, name: str, message: str | None
) -> None:
    if message is None:
        assert parse_file(data, name).entries[0].problem == "no title, arXiv id or DOI"
        return
    with pytest.raises(UnreadableLibrary) as refused:
        parse_file(data, name)
    assert str(refused.value).startswith(message)


def test_control_characters_and_oversized_fields_cost_their_entry_only() -> None:
    bib = (
        "@misc{a, title = {Bad \x07 bell}}\n"
        f"@misc{{b, title = {{{'x' * 1001}}}}}\n"
        "@misc{c, title = {Fine}}\n"
    )
    problems = [e.problem for e in parse_file(bib.encode(), "a.bib").entries]
    assert problems == [
        "a field holds a control character",
        "the title is 1001 characters (at most 1000)",
        None,
    ]
