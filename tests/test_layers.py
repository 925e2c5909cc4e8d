"""daemon/'s sub-packages follow the data path, and every import points down the layers."""
from __future__ import annotations

import ast
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[1] / "daemon"
LAYER = {"formats": 0, "models": 1, "options": 1.5, "live": 2, "offline": 2, "cli_options": 3, "cli": 4}  # live and offline: side by side


def imports(path: Path) -> list[str]:
    """The segue.daemon parts (formats, models, ...) a module imports, at any depth in the file."""
    package = ["daemon", *path.relative_to(DAEMON).parent.parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
                targets = [base] if node.module else [base + [alias.name] for alias in node.names]
            elif node.module and node.module.startswith("segue.daemon"):
                targets = [["daemon", *node.module.split(".")[2:]]]
            else:
                continue
            found += [t[1] for t in targets if len(t) > 1]
        elif isinstance(node, ast.Import):
            found += [a.name.split(".")[2] for a in node.names if a.name.startswith("segue.daemon.")]
    return found


def part(path: Path) -> str:
    rel = path.relative_to(DAEMON)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_import_points_down():
    wrong = []
    for path in DAEMON.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == DAEMON:
            continue
        here = part(path)
        for target in imports(path):
            if target == here:
                continue
            if target not in LAYER or LAYER[target] >= LAYER[here]:
                wrong.append(f"{path.relative_to(DAEMON)} imports {target}")
    assert not wrong, wrong


def test_the_checker_sees_a_wrong_arrow(tmp_path, monkeypatch):
    """The check above can fail: a formats module importing the live engine is caught."""
    fake = tmp_path / "daemon"
    (fake / "formats").mkdir(parents=True)
    (fake / "formats" / "bad.py").write_text("from ..live.engine import Engine\nfrom . import codec\n")
    monkeypatch.setattr(__import__(__name__), "DAEMON", fake)
    assert imports(fake / "formats" / "bad.py") == ["live", "formats"]
    try:
        test_every_import_points_down()
    except AssertionError as err:
        assert "formats/bad.py imports live" in str(err)
    else:
        raise AssertionError("a wrong arrow went unseen")


def test_the_folders_show_the_data_path():
    folders = {p.name for p in DAEMON.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == {"formats", "models", "live", "offline"}


ROOT = DAEMON.parent
# Which of segue's packages each may import: the runtime none of the torch side; training the runtime
# (its codecs); export both. The training side's commands join `segue` through entry points
# (pyproject.toml), so the runtime never names them either, not even in a string.
ALLOWED = {"daemon": {"daemon"}, "training": {"daemon", "training"}, "export": {"daemon", "training", "export"}}


def segue_imports(path: Path) -> set[str]:
    """The segue packages (daemon, training, export) a module imports by name, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found |= {n.split(".")[1] for n in names if n.startswith("segue.") and len(n.split(".")) > 1}
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add(path.relative_to(ROOT).parts[0])
    return found


def named_imports(path: Path) -> set[str]:
    """segue.training / segue.export named in a string (an import by name)."""
    return {s.value.split(".")[1] for s in ast.walk(ast.parse(path.read_text()))
            if isinstance(s, ast.Constant) and isinstance(s.value, str)
            and s.value.startswith(("segue.training.", "segue.export."))}  # not the metadata key "segue.training"


def wrong_arrows(root: Path) -> list[str]:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in (root / package).rglob("*.py"):
            for target in segue_imports(path) - allowed:
                wrong.append(f"{path.relative_to(root)} imports segue.{target}")
            if package == "daemon":
                wrong += [f"{path.relative_to(root)} names segue.{t}" for t in named_imports(path)]
    return wrong


def test_the_runtime_never_imports_the_torch_side():
    assert not wrong_arrows(ROOT), wrong_arrows(ROOT)


def test_the_package_check_sees_an_upward_import(tmp_path):
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / "daemon" / "engine.py").write_text("def f():\n    from segue.training.model import EventLSTM\n")
    (tmp_path / "daemon" / "tool.py").write_text("MODULE = 'segue.export.onnx'\nKEY = 'segue.training'\n")
    (tmp_path / "training" / "loop.py").write_text("import segue.export.onnx\n")
    assert sorted(wrong_arrows(tmp_path)) == ["daemon/engine.py imports segue.training",
                                              "daemon/tool.py names segue.export",
                                              "training/loop.py imports segue.export"]


def test_the_live_engine_and_the_command_load_no_torch():
    import subprocess
    import sys

    def loaded(code: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", f"import sys; {code}; print(sorted(m for m in sys.modules))"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return eval(done.stdout.strip().splitlines()[-1])

    engine = loaded("import segue.daemon.live.engine, segue.daemon.live.session, segue.daemon.cli")
    assert not [m for m in engine if m.split(".")[0] in ("torch", "onnx") or m.startswith(("segue.training",
                                                                                            "segue.export"))]
    helped = loaded("from segue.daemon.cli import main; main(['--help']); main(['train', '--help'])")
    assert "segue.training.cli" in helped and not [m for m in helped if m.split(".")[0] in ("torch", "onnx")]


def test_a_runtime_only_install_lists_the_play_commands_and_names_the_extra(monkeypatch):
    """Without the training extra's packages, train, data and export are not listed; the help names
    the extra, and typing one says what to install (eval stays: its roll and lyrics need no torch)."""
    from click.testing import CliRunner
    from segue.daemon import cli

    monkeypatch.setattr(cli, "_installed", lambda extras: not extras)
    result = CliRunner().invoke(cli.cli, ["--help"])
    listed = result.output.split("Commands:")[1]
    assert "generate" in listed and "jam" in listed and "eval" in listed
    assert not any(f"  {name} " in listed for name in ("train", "data", "export"))
    assert "With the training extra, also: data, export, train" in " ".join(result.output.split())
    code = cli.main(["train", "melody", "x.mid", "--out", "m.pt"])
    assert code == 2
    monkeypatch.setattr(cli, "_installed", lambda extras: True)
    assert "train" in CliRunner().invoke(cli.cli, ["--help"]).output.split("Commands:")[1]
