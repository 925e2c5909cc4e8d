"""Shared fixtures: the shared data sets, the small model files the runtime tests play, and small
models trained with torch for the tests of training and export.

Markers (pyproject.toml): `jack` (a real JACK server), `training` (torch). A test that needs torch is
marked by the fixtures it uses or by its module; without torch it is skipped. A test that needs
../shared/data and finds it missing is skipped with one line naming the folder, unless
SEGUE_REQUIRE_DATA is set (CI sets it): then it fails.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MIDI = DATA / "midi"
KREBS = MIDI / "krebs.mid"
ALLEGRO = MIDI / "allegroconspirito.mid"
MODELS = Path(__file__).resolve().parent / "models"  # committed; rebuilt by tests/models/build.py
SHIPPED = ROOT / "daemon" / "models"
HAS_TORCH = importlib.util.find_spec("torch") is not None
# Fixtures that train with torch: a test that uses one is a `training` test.
TORCH_FIXTURES = {"small_checkpoint", "exported_model", "small_rbm", "small_roll_model", "small_nade",
                  "small_nade_model", "small_lyrics", "exported_lyric_model"}


# Modules that train or export with torch throughout, and the ones that run a JACK server.
TORCH_MODULES = ["test_distributed.py", "test_export.py", "test_melodies.py", "test_metrical.py",
                 "test_nade.py", "test_rnnrbm.py", "test_training.py"]
JACK_MODULES = ["test_jam_jack.py", "test_reliability.py"]
collect_ignore = [] if HAS_TORCH else TORCH_MODULES  # they import torch


def pytest_report_header(config):
    if not HAS_TORCH:
        return f"no torch here: {len(TORCH_MODULES)} modules of training tests are not collected"


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.name
        if module in TORCH_MODULES or TORCH_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.training)
        if module in JACK_MODULES:
            item.add_marker(pytest.mark.jack)
        if item.get_closest_marker("training") and not HAS_TORCH:
            item.add_marker(pytest.mark.skip(reason="needs torch: pip install -e '.[train]'"))


def shared(path: Path) -> Path:
    """A file or folder of ../shared/data: skipped when missing (failed with SEGUE_REQUIRE_DATA)."""
    if not path.exists():
        message = f"shared data missing: {path} (the project's data sets, beside this clone: data/README.md)"
        if os.environ.get("SEGUE_REQUIRE_DATA"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def krebs() -> Path:
    return shared(KREBS)


@pytest.fixture(scope="session")
def allegro() -> Path:
    return shared(ALLEGRO)


@pytest.fixture(scope="session")
def jsb() -> Path:
    return shared(DATA / "polyphonic" / "jsb_chorales.json")


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory, krebs) -> Path:
    """A few epochs of the segue recipe on krebs channel 0 (about a second)."""
    from segue.training.train import TrainConfig, train_melody

    out = tmp_path_factory.mktemp("ckpt") / "small.pt"
    train_melody([krebs], out, TrainConfig(channel=0, epochs=15, batch=8, hidden=32, length=32), progress=False)
    return out


@pytest.fixture(scope="session")
def exported_model(small_checkpoint) -> Path:
    from segue.export.onnx import export_melody

    return export_melody(small_checkpoint, small_checkpoint.with_suffix(".onnx"), command="pytest")


@pytest.fixture(scope="session")
def small_model() -> Path:
    """An event model file (the recipe of small_checkpoint, committed: no torch needed to play it)."""
    return MODELS / "krebs-tiny.onnx"


@pytest.fixture(scope="session")
def small_lyric_model() -> Path:
    """A lyric model file (embedding 32, 64 units, 4 epochs on the anthology; committed)."""
    return MODELS / "songci-tiny.onnx"


@pytest.fixture(scope="session")
def shipped_roll_model() -> Path:
    return SHIPPED / "chorale.onnx"


@pytest.fixture(scope="session")
def shipped_nade_model() -> Path:
    return SHIPPED / "chorale-nade.onnx"


@pytest.fixture(scope="session")
def small_rbm(tmp_path_factory, jsb):
    """A small RNN-RBM, 3 epochs on the JSB chorales' train split: (checkpoint, training record)."""
    from segue.training import polyphony

    out = tmp_path_factory.mktemp("rbm") / "jsb.pt"
    config = polyphony.RBMTrainConfig(hidden=40, recurrent=30, k=5, epochs=3, batch=4, lr=3e-3, valid_every=3,
                                      valid_runs=5, valid_betas=50)
    return out, polyphony.train_rnnrbm([jsb], out, config, progress=False)


@pytest.fixture(scope="session")
def small_roll_model(small_rbm, tmp_path_factory) -> Path:
    from segue.export.rnnrbm import export_rnnrbm

    return export_rnnrbm(small_rbm[0], tmp_path_factory.mktemp("roll") / "roll.onnx", gibbs=25)


@pytest.fixture(scope="session")
def small_nade(tmp_path_factory, jsb):
    """Two epochs of a small LSTM-NADE on JSB: (checkpoint, training record)."""
    from segue.training import nade_training

    out = tmp_path_factory.mktemp("nade") / "jsb.pt"
    config = nade_training.NADETrainConfig(hidden=24, recurrent=24, epochs=2, chunk=50, lr=3e-3)
    return out, nade_training.train_rnnnade([jsb], out, config, progress=False)


@pytest.fixture(scope="session")
def small_nade_model(small_nade) -> Path:
    from segue.export.nade import export_nade

    return export_nade(small_nade[0], small_nade[0].with_suffix(".onnx"))


def _rewrite_metadata(src: Path, dst: Path, changes: dict) -> Path:
    """Copy a model, changing (value) or removing (None) metadata entries (needs the onnx package)."""
    onnx = pytest.importorskip("onnx", reason="rewriting a model file needs onnx: pip install -e '.[train]'")

    proto = onnx.load(str(src))
    meta = {p.key: p.value for p in proto.metadata_props}
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(dst))
    return dst


@pytest.fixture
def rewrite_metadata():
    return _rewrite_metadata


@pytest.fixture(scope="session")
def songci300() -> Path:
    return shared(DATA / "lyrics" / "songci300.txt")


@pytest.fixture(scope="session")
def small_lyrics(tmp_path_factory, songci300):
    """A small LSTM lyric model, 4 epochs on the ci anthology (a few seconds): (checkpoint, record)."""
    from segue.training.lyrics import LyricsTrainConfig, train_lyrics

    out = tmp_path_factory.mktemp("lyrics") / "ci.pt"
    config = LyricsTrainConfig(embed=32, hidden=64, layers=1, dropout=0.0, length=32, batch=32, epochs=4,
                               lr=3e-3, cap=1500)
    return out, train_lyrics(songci300, out, config, progress=False, command="pytest")


@pytest.fixture(scope="session")
def exported_lyric_model(small_lyrics) -> Path:
    from segue.export.lyrics import export_lyrics

    return export_lyrics(small_lyrics[0], small_lyrics[0].with_suffix(".onnx"), command="pytest")


def check_roll_model_plays(model_file: Path, roll, prime: Path, tmp_path: Path) -> None:
    """A piano-roll model file continues a piece the same way for the same seed, keeps held keys in
    every sampled frame, and `segue generate` writes notes with it."""
    import numpy as np
    from click.testing import CliRunner
    from segue.daemon.cli import cli
    from segue.daemon.formats import pianoroll
    from segue.daemon.models.roll import RollModel, continue_roll

    net = RollModel(model_file)
    first, again = continue_roll(net, roll[:8], 16, seed=5), continue_roll(net, roll[:8], 16, seed=5)
    assert first.shape == (16, 88) and (first == again).all() and first.any()
    held = np.zeros(88, bool)
    held[[39, 43, 46]] = True  # C4 E4 G4 held by the player: clamped in every sample
    stream = net.stream(seed=1)
    assert all(stream.advance(None if t == 0 else roll[t - 1], held=held)[held].all() for t in range(10))
    result = CliRunner().invoke(cli, ["generate", "--model", str(model_file), "--prime", str(prime), "--frames", "12",
                                      "--seed", "2", "--out", str(tmp_path / "gen.mid")])
    assert result.exit_code == 0, result.output
    assert pianoroll.from_midi(tmp_path / "gen.mid").any()


@pytest.fixture
def clocked(small_model):
    """An engine on a clock the test moves (no wall-clock timing); its scheduler sends on time."""
    from clocks import FakeClock
    from segue.daemon.live.engine import Engine, JamConfig
    from segue.daemon.live.policy import CallAndResponse
    from segue.daemon.live.scheduler import Scheduler
    from segue.daemon.models.event import EventModel

    clock, sent = FakeClock(), []
    sched = Scheduler(sent.append, max_note=0.2, clock=clock, thread=False)
    eng = Engine(EventModel(small_model), sched, CallAndResponse(silence=0.5), JamConfig(length=6, seed=0),
                 clock=clock)
    eng.sent = sent
    yield eng, clock
    sched.close()
