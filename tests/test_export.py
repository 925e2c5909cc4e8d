"""Export: torch and onnxruntime agree over a real piece; int8 costs little."""
import numpy as np
import torch
from segue.daemon.formats.midifile import read_notes
from segue.daemon.models.event import EventModel
from segue.export.onnx import parity
from segue.export.quantize import quantize
from segue.training.train import load_checkpoint


def test_parity_over_300_events_of_a_real_piece(small_checkpoint, small_model, krebs):
    model = EventModel(small_model)
    events = model.codec.encode(read_notes(krebs, channel=0))[:300]
    worst = parity(small_checkpoint, small_model, events)
    assert worst["probs"] < 1e-5 and worst["logits"] < 1e-4 and worst["state"] < 1e-4


def test_streaming_step_equals_the_trained_sequence_model(small_checkpoint, krebs):
    """The exported step (explicit cell) is the same function as nn.LSTM over a whole sequence."""
    ckpt = load_checkpoint(small_checkpoint)
    events = torch.from_numpy(ckpt.codec.encode(read_notes(krebs, channel=0))[:200])
    with torch.no_grad():
        whole, _ = ckpt.model(events[None])
        h = torch.zeros(1, 1, ckpt.model.config.hidden)
        c = torch.zeros_like(h)
        for t in range(len(events)):
            step, h, c = ckpt.model.step(events[t, 0:1], events[t, 1:2], events[t, 2:3], h, c)
            assert torch.allclose(step[0], whole[0, t], atol=1e-5)


def test_int8_model_loads_and_stays_close(small_model, tmp_path, krebs):
    q = quantize(small_model, tmp_path / "q.onnx")
    fp, i8 = EventModel(small_model), EventModel(q)
    assert i8.info == fp.info
    events = fp.codec.encode(read_notes(krebs, channel=0))[:100]
    a, b = fp.stream(), i8.stream()
    tv = []
    for row in events:
        pa, pb = [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in (a.advance(*row), b.advance(*row))]
        tv.append(0.5 * np.abs(pa - pb).sum() / 3)  # total variation per head, averaged
    assert np.mean(tv) < 0.05
