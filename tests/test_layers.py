"""daemon/'s sub-packages follow the data path, and every import points down the layers."""
from __future__ import annotations

import ast
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[1] / "daemon"
LAYER = {"formats": 0, "models": 1, "live": 2, "offline": 2, "cli_offline": 3, "cli_eval": 3.5, "cli": 4}  # live and offline: side by side; cli_eval uses cli_offline's option types


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
