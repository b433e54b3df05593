"""``modelplane``: the typer application and its top-level commands.

Where it sits: the user's entry point. ``version``, ``crds`` and ``validate`` are here; the local mode's
commands come from :mod:`.local_commands` (``up``/``down``/``status``), :mod:`.resources` (``apply``,
``get``, ``describe``, ``delete``, ``wait``, ``logs``), :mod:`.registry` (``runs``, ``models``,
``lineage``), :mod:`.predict` and :mod:`.demo`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from modelplane.cli import demo, local_commands, predict, registry, resources
from modelplane.cli.manifests import ManifestError, read_manifests
from modelplane.crd.build import build_all_crds
from modelplane.crd.files import write_crds
from modelplane.crd.validation import InvalidResourceError, validate_resource

app = typer.Typer(
    name="modelplane",
    help="ModelPlane: versioned data, training, model registry, ONNX serving and rollouts on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def package_version() -> str:
    """The installed distribution's version."""
    try:
        return version("modelplane")
    except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled tree
        return "0+unknown"


@app.command("version")
def version_command() -> None:
    """Print the ModelPlane version."""
    out.print(f"modelplane {package_version()}")


@app.command("crds")
def crds_command(
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write one file per CRD here instead of printing them."),
    ] = None,
) -> None:
    """Print the CustomResourceDefinitions (pipe into `kubectl apply -f -`), or write them to a directory."""
    if output_dir is not None:
        for path in write_crds(output_dir):
            out.print(f"wrote {path}")
        return
    typer.echo(yaml.safe_dump_all(build_all_crds(), sort_keys=False), nl=False)


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Option("--filename", "-f", help="File or directory of manifests (repeatable).")],
) -> None:
    """Validate manifests against the CRD schemas, with the API server's messages (no cluster needed)."""
    failures = 0
    checked = 0
    for path in files:
        try:
            for manifest in read_manifests(path):
                checked += 1
                try:
                    validate_resource(manifest.body)
                except InvalidResourceError as error:
                    failures += 1
                    err.print(f"[red]✗[/red] {manifest.source}: {error}", highlight=False)
                else:
                    out.print(f"[green]✓[/green] {manifest.source}: {manifest.display} is valid", highlight=False)
        except ManifestError as error:
            failures += 1
            err.print(f"[red]✗[/red] {error}", highlight=False)
    if checked == 0 and failures == 0:
        err.print("no manifests found")
        raise typer.Exit(1)
    if failures:
        raise typer.Exit(1)


local_commands.register(app)
resources.register(app)
registry.register(app)
predict.register(app)
demo.register(app)
