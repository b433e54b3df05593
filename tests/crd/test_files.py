"""The committed CRDs under crds/ equal a fresh generation; the writer and checker work on a temp dir."""

from __future__ import annotations

from pathlib import Path

from modelplane.crd.__main__ import main
from modelplane.crd.files import check_crds, rendered_crds, write_crds

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crds_equal_a_fresh_generation():
    problems = check_crds(ROOT / "crds")
    assert not problems, "run `make crds`:\n" + "\n".join(problems)


def test_one_file_per_kind_named_group_plural():
    assert sorted(rendered_crds()) == [
        "modelplane.io_datasets.yaml",
        "modelplane.io_inferenceservices.yaml",
        "modelplane.io_modelversions.yaml",
        "modelplane.io_rollouts.yaml",
        "modelplane.io_trainingruns.yaml",
    ]


def test_check_reports_missing_changed_and_stale_files(tmp_path):
    write_crds(tmp_path)
    assert check_crds(tmp_path) == []
    (tmp_path / "modelplane.io_rollouts.yaml").unlink()
    (tmp_path / "modelplane.io_datasets.yaml").write_text("# edited\n")
    (tmp_path / "modelplane.io_olds.yaml").write_text("# stale\n")
    problems = check_crds(tmp_path)
    assert any("rollouts.yaml: missing" in p for p in problems)
    assert any("datasets.yaml: differs" in p for p in problems)
    assert any("olds.yaml: stale" in p for p in problems)
    assert main(["--check", str(tmp_path)]) == 1
    assert main([str(tmp_path)]) == 0
    assert check_crds(tmp_path) == []
    assert not (tmp_path / "modelplane.io_olds.yaml").exists()
