"""Rebuild the small model files the runtime tests play (committed, so those tests need no torch):

    python tests/models/build.py      # needs the training extra and ../shared/data

- krebs-tiny.onnx: the event LSTM of `segue train melody`, 32 units, 15 epochs on krebs.mid's channel 0
  (about a second of training);
- songci-tiny.onnx: a character LSTM (embedding 32, 64 units), 4 epochs on the ci anthology of 300.
The tests of training and export train their own small models; these stand for "a model file".
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"


def main() -> int:
    from segue.export.lyrics import export_lyrics
    from segue.export.onnx import export_melody
    from segue.training.lyrics import LyricsTrainConfig, train_lyrics
    from segue.training.train import TrainConfig, train_melody

    with tempfile.TemporaryDirectory() as tmp:
        melody = Path(tmp) / "krebs-tiny.pt"
        train_melody([DATA / "midi" / "krebs.mid"], melody,
                     TrainConfig(channel=0, epochs=15, batch=8, hidden=32, length=32), progress=False)
        export_melody(melody, HERE / "krebs-tiny.onnx", command="python tests/models/build.py")
        lyrics = Path(tmp) / "songci-tiny.pt"
        config = LyricsTrainConfig(embed=32, hidden=64, layers=1, dropout=0.0, length=32, batch=32, epochs=4,
                                   lr=3e-3, cap=1500)
        train_lyrics(DATA / "lyrics" / "songci300.txt", lyrics, config, progress=False,
                     command="python tests/models/build.py")
        export_lyrics(lyrics, HERE / "songci-tiny.onnx", command="python tests/models/build.py")
    for f in sorted(HERE.glob("*.onnx")):
        print(f"{f.relative_to(HERE.parents[1])}: {f.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
