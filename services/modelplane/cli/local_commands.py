"""``up``, ``down`` and ``status``: the local mode's daemon (control plane, controllers, local kubelet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelplane.cli import output as ui
from modelplane.cli.kinds import MODELPLANE_KINDS
from modelplane.cli.resources import HomeOption
from modelplane.cli.session import DEFAULT_PORT, Session, SessionError


def _volumes(values: list[str]) -> dict[str, Path]:
    volumes: dict[str, Path] = {}
    for value in values:
        claim, sep, path = value.partition("=")
        if not sep or not claim or not path:
            raise ui.fail(f"--volume takes CLAIM=DIRECTORY, got {value!r}")
        if not Path(path).is_dir():
            raise ui.fail(f"--volume {claim}: {path} is not a directory")
        volumes[claim] = Path(path)
    return volumes


def up_command(
    port: Annotated[int, typer.Option("--port", help="Control-plane port on 127.0.0.1.")] = DEFAULT_PORT,
    volume: Annotated[
        list[str] | None,
        typer.Option("--volume", help="CLAIM=DIRECTORY: where a PersistentVolumeClaim's files are (repeatable)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Start the local mode in the background: control plane on SQLite, controllers, local jobs and servers."""
    session = Session.open(home)
    if volume:
        session.set_volumes(_volumes(volume))
    try:
        with ui.err.status("starting the local control plane and controllers", spinner="dots"):
            state, started = session.up(port)
    except SessionError as error:
        raise ui.fail(str(error)) from None
    url = state["apiUrl"]
    ui.out.print(f"ModelPlane local mode is {'up' if started else 'already running'} (pid {state['pid']}).")
    ui.out.print(f"  control plane  {url}   API docs {url}/docs   metrics {url}/metrics", highlight=False)
    ui.out.print(f"  state          {session.home.root}", highlight=False)
    ui.out.print("  next           modelplane apply -f FILE_OR_DIR, then modelplane get all", highlight=False)


def down_command(home: HomeOption = None) -> None:
    """Stop the local mode (state is kept: `modelplane up` carries on where it stopped)."""
    session = Session.open(home)
    with ui.err.status("stopping the local mode", spinner="dots"):
        stopped = session.down()
    ui.out.print("ModelPlane local mode stopped." if stopped else "ModelPlane local mode is not running.")


def status_command(home: HomeOption = None) -> None:
    """Whether the local mode runs, where, and how many objects of each kind it holds."""
    session = Session.open(home)
    state = session.state()
    if state is None:
        ui.out.print(f"ModelPlane local mode is not running (state in {session.home.root}).", highlight=False)
    else:
        ui.out.print(f"ModelPlane local mode is running: pid {state['pid']}, control plane {state['apiUrl']}.")
    store = session.store
    rows = [[k.plural, str(len(store.list(k.kind)))] for k in MODELPLANE_KINDS]
    ui.table(["Kind", "Objects"], rows)
    if state is None:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    app.command("up")(up_command)
    app.command("down")(down_command)
    app.command("status")(status_command)
