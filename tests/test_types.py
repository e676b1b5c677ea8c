"""Static types: mypy over ``dashboard/`` and ``connectors/`` is part of the test command.

The one test runs mypy in-process with the project's configuration (``[tool.mypy]`` in
pyproject.toml: the packages, strictness, plugins), so ``make test`` fails on a type error.
mypy is in the ``test`` extra: without it the test fails rather than skips.
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_reports_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """mypy with pyproject.toml's [tool.mypy] exits 0; its report is the failure message."""
    from mypy import api  # the test extra installs it

    monkeypatch.chdir(ROOT)  # the configured files and the cache are relative to the root
    report, errors, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, f"mypy exited {status}:\n{report}{errors}"
