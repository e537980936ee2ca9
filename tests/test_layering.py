"""The layering of DESIGN.md as a test: backend < core < nn, optim, data < train <
diagnostics, cli, checked by import-linter over every import in minigrad (those inside
functions included, so a lazy import is no way around it). The contract lives in
pyproject.toml ([tool.importlinter])."""
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint(root: Path, capsys, monkeypatch) -> tuple[int, str]:
    """lint-imports on the minigrad package under root with root's pyproject.toml."""
    cli = pytest.importorskip("importlinter.cli", reason="pip install import-linter")
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "minigrad" or m.startswith("minigrad.")]:
        monkeypatch.delitem(sys.modules, name)  # found by path, not the imported copy
    code = cli.lint_imports(config_filename=str(root / "pyproject.toml"), no_cache=True)
    return code, capsys.readouterr().out


def test_layering_contract_is_kept(capsys, monkeypatch):
    code, out = _lint(ROOT, capsys, monkeypatch)
    assert code == 0, out
    assert "1 kept, 0 broken" in out


def test_layering_catches_a_lazy_upward_import(capsys, monkeypatch, tmp_path):
    # A copy of the package with one lazy import of nn in the backend must fail.
    shutil.copytree(ROOT / "minigrad", tmp_path / "minigrad",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    ref = tmp_path / "minigrad" / "backend" / "numpy_ref.py"
    ref.write_text(ref.read_text() + "\n\ndef _sneaky():\n    from ..nn import layers\n"
                   "    return layers\n")
    code, out = _lint(tmp_path, capsys, monkeypatch)
    assert code != 0
    assert "minigrad.backend is not allowed to import minigrad.nn" in out
    assert "minigrad.backend.numpy_ref -> minigrad.nn" in out


def test_layering_every_module_has_a_layer():
    # A module missing from the contract would escape it: every top-level module and
    # package of minigrad must stand in one layer.
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layered = {name.strip() for layer in config["contracts"][0]["layers"]
               for name in layer.replace("|", ":").split(":")}
    package = ROOT / "minigrad"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in package.iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    assert sorted(modules - layered) == []
