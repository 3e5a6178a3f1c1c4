"""TUI tests: no blinking cursor. An Input's cursor toggles every 0.5 s of wall time, so a
snapshot taken while one has focus (the order ticket's quantity) caught it on or off by
chance. With blinking off the cursor is simply shown, in every run."""

from __future__ import annotations

import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def steady_input_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    init = Input.__init__

    def init_without_blink(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.cursor_blink = False

    monkeypatch.setattr(Input, "__init__", init_without_blink)
