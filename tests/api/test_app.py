"""The application's start-up: the garbage collector is frozen only when the settings ask for it.

In a subprocess, since :func:`gc.freeze` acts on the whole interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.db

SCRIPT = """
import asyncio, gc, sys
from pathlib import Path
from pydantic import SecretStr
from modelplane.api.app import create_app
from modelplane.api.settings import ArtifactBackend, ArtifactSettings, DatabaseSettings, Settings

root = Path(sys.argv[1])
settings = Settings(
    db=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{root / 'cp.db'}"), migrate_on_start=True),
    artifacts=ArtifactSettings(backend=ArtifactBackend.LOCAL, local_root=root / "artifacts"),
    gc_freeze=sys.argv[2] == "on",
)

async def main() -> None:
    app = create_app(settings)
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        print(before, gc.get_freeze_count())

asyncio.run(main())
"""


@pytest.mark.parametrize(("setting", "frozen"), [("on", True), ("off", False)])
def test_start_up_freezes_the_garbage_collector_when_asked(tmp_path: Path, setting: str, frozen: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), setting], capture_output=True, text=True, timeout=120, check=True
    )
    before, after = (int(n) for n in done.stdout.split())
    assert before == 0
    assert (after > 10_000) is frozen  # the modules, the app and its pools: tens of thousands of objects
