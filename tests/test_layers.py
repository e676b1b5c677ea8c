"""The design's layers hold (import-linter's contracts in pyproject.toml): the core imports
no connector, page, Dash or app; connectors only the core; pages read through
``dashboard.queries``; layouts never import callbacks. A wrong-way import fails here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_layer_contract_is_kept() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
         " sys.exit(lint_imports_command())", "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_web_worker_loads_no_connector() -> None:
    """``import app`` and building the app (no notification endpoint configured) load no
    connector module: web workers stay small and start fast."""
    code = ("import sys, tempfile; from dashboard.settings import Settings; import app; "
            "app.create_app(Settings(var_dir=tempfile.mkdtemp(), database_url='', "
            "redis_url=None)); "
            "print(sorted(m for m in sys.modules if m.startswith('connectors')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
