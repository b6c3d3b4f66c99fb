"""The section mechanism both report writers share (tools/sections.py)."""

from __future__ import annotations

from tools.sections import note_section, sheets_section, write_markdown


def test_write_markdown_joins_the_sections_in_order_and_replaces_the_report_whole(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old report")
    assert write_markdown(path, [["# T", ""], [], ["## A", "", "a"], ["## B"]]) == path
    assert path.read_bytes() == b"# T\n\n## A\n\na\n## B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]   # no temporary left


def test_sheets_section_follows_the_given_order_and_titles(tmp_path):
    assert sheets_section(tmp_path) == []            # no sheets folder: no section
    (tmp_path / "sheets").mkdir()
    for name in ("b", "a", "c"):
        (tmp_path / "sheets" / f"{name}.png").write_bytes(b"png")
    every = sheets_section(tmp_path)
    assert every[0] == "## Contact sheets" and [line for line in every if line.startswith("**")] == \
        ["**a**", "**b**", "**c**"]
    chosen = sheets_section(tmp_path, ["c", "missing", "a"], lambda n: f"({n.upper()}) {n}")
    assert [line for line in chosen if line.startswith(("**", "!["))] == \
        ["**(C) c**", "![c](sheets/c.png)", "**(A) a**", "![a](sheets/a.png)"]


def test_note_section_only_with_a_note():
    assert note_section(None) == [] and note_section("") == []
    assert note_section("rerun later") == ["**Note.** rerun later", ""]
