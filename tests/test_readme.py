"""The README's set-up block is what CI runs: the two cannot drift apart."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(lines) -> list[str]:
    return [line.split(" #")[0].strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def readme_setup() -> list[str]:
    """The first fenced block of the README: install, the main job, the tests."""
    block = re.search(r"```(?:bash|console|sh)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "the README has no fenced set-up block"
    return commands(block.group(1).splitlines())


def test_ci_runs_exactly_the_readmes_setup_block_last():
    setup = readme_setup()
    ci = commands((ROOT / ".ci" / "run").read_text().splitlines())
    assert ci[-len(setup):] == setup, f"README: {setup}\n.ci/run ends with: {ci[-len(setup):]}"


def test_the_setup_block_installs_runs_the_main_job_and_tests():
    install, job, test = readme_setup()
    assert install.startswith("python -m pip install") and "-e \".[train,test]\"" in install
    assert job.startswith("segue generate") and test.startswith("python -m pytest")


def test_the_readme_starts_with_its_setup_block():
    text = (ROOT / "README.md").read_text()
    before = text[:text.index("```")].strip().splitlines()
    assert before[0] == "# segue" and len([line for line in before[1:] if line.strip()]) <= 3
