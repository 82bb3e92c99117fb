"""UI markdown escaping: text from a store can never become markup, a link or a new cell."""

from sync.markdown import md_table, md_text


def test_hostile_text_is_inert():
    cell = md_text("<script>alert(1)</script> [x](javascript:alert(1)) it's")
    assert "<script>" not in cell and "&lt;script&gt;" in cell
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)" in cell
    assert "&#x27;" in cell  # an entity stays whole: its '#' is not backslash-escaped


def test_a_pipe_or_line_break_never_ends_a_cell():
    table = md_table(["Order", "Reason"], [["#1001 | x", "line one\nline two"]])
    rows = table.splitlines()
    assert len(rows) == 3
    assert rows[2] == "| \\#1001 \\| x | line one line two |"


def test_list_markers_escaped_only_where_they_are_markers():
    assert md_text("- a") == "\\- a"
    assert md_text("12. ok") == "12\\. ok"
    assert md_text("5.5") == "5.5"
    assert md_text("a - b") == "a - b"
