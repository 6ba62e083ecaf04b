"""docs/concepts/security.md carries the permission matrix the integration test performs."""

from __future__ import annotations

from pathlib import Path

from ..security_matrix import IDENTITIES, MATRIX, render_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "concepts" / "security.md"


def test_the_documented_matrix_is_the_tested_one():
    text = DOC.read_text()
    table = text.split("<!-- matrix:begin -->", 1)[1].split("<!-- matrix:end -->", 1)[0].strip()
    assert table == render_table(), "regenerate the table: python -c 'from tests.security_matrix import render_table'"


def test_every_identity_is_in_the_threat_model_and_has_denied_cells():
    for identity in IDENTITIES:
        cells = [c for c in MATRIX if c.identity == identity]
        assert cells and any(not c.allowed for c in cells), identity
    assert len({c.id for c in MATRIX}) == len(MATRIX)
