"""Lyric models: the text codec, n-gram baselines, training, export parity, the runtime, lyrics on notes."""
from __future__ import annotations

import math

import mido
import numpy as np
import pytest
from segue.daemon.cli import main
from segue.daemon.formats.text import (
    UNK,
    CharCodec,
    TextError,
    normalise,
    read_corpus,
    split_blocks,
    syllables,
)
from segue.daemon.models import lyric as lyricmodel
from segue.daemon.models.sampling import GumbelNoise, Sampling


# -- text ----------------------------------------------------------------------------------------
def test_read_corpus_names_what_is_wrong(tmp_path):
    cases = {"empty.txt": b"", "blank.txt": b"  \n\n", "bin.txt": b"ab\x00cd", "latin1.txt": "caf\u00e9".encode("latin-1")}
    messages = {"empty.txt": "empty", "blank.txt": "empty", "bin.txt": "binary", "latin1.txt": "not UTF-8"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(TextError, match=messages[name]):
            read_corpus(tmp_path / name)
    with pytest.raises(TextError, match="cannot read"):
        read_corpus(tmp_path / "missing.txt")
    (tmp_path / "ok.txt").write_bytes("\ufeff明月\r\n几时有".encode())
    assert read_corpus(tmp_path / "ok.txt") == "明月\n几时有"


def test_codec_keeps_the_frequent_characters_and_maps_the_rest_to_unk():
    codec = CharCodec.build("aaab b\nc", cap=4)
    assert codec.vocab == (UNK, "a", "b", " ")
    assert codec.encode("abz").tolist() == [1, 2, 0]
    assert CharCodec.from_json(codec.to_json()) == codec
    spaced = CharCodec.build("ab\ncd", newlines="space")
    assert "\n" not in spaced.vocab and spaced.decode(spaced.encode("a\nb")) == "a b"
    assert normalise("a\x07b\n\n\n\nc") == "ab\n\nc"
    with pytest.raises(ValueError):
        CharCodec(("a", UNK))


def test_split_blocks_is_contiguous_disjoint_and_complete():
    train, valid = split_blocks(25_500, block=1000, every=10)
    assert valid == [(9000, 10000), (19000, 20000)]
    covered = sorted(train + valid)
    assert covered[0][0] == 0 and covered[-1][1] == 25_500
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
    assert split_blocks(500) == ([(0, 450)], [(450, 500)])


def test_syllables():
    assert syllables("明月几时有？") == list("明月几时有")
    assert syllables("Beautiful moonlight, don't go") == ["Beau-", "ti-", "ful", "moon-", "light", "don't", "go"]
    assert syllables("Schmetterling", "de_DE") == ["Schmet-", "ter-", "ling"]
    assert syllables("hello世界") == ["hel-", "lo", "世", "界"]
    with pytest.raises(ValueError, match="no hyphenation patterns"):
        syllables("word", "xx_XX")


def test_karaoke_texts_follow_rp017():
    assert lyricmodel.karaoke(["Beau-", "ti-", "ful", "moon"]) == ["Beau", "ti", "ful ", "moon\r"]
    assert lyricmodel.karaoke(list("明月几")) == ["明", "月", "几\r"]
    assert lyricmodel.phrases([0, 0.2, 0.4, 2.0, 2.1], gap=0.75) == [[0, 0.2, 0.4], [2.0, 2.1]]
    assert [len(p) for p in lyricmodel.phrases([i * 0.1 for i in range(30)], longest=12)] == [12, 12, 6]


# -- n-gram baselines ---------------------------------------------------------------------------
def test_kneser_ney_is_a_distribution_and_beats_the_unigram():
    from segue.training.ngram import BOS, KneserNey, unigram_bpc

    rng = np.random.default_rng(0)
    phrase = rng.integers(1, 12, 9)
    train = [np.concatenate([phrase] * 30 + [rng.integers(1, 12, 50)])]
    valid = [np.concatenate([phrase] * 3)]
    kn = KneserNey(train, vocab=12, order=4)
    for context in [(), (BOS,), tuple(phrase[:3].tolist()), (11, 11, 11), (BOS, int(phrase[0]))]:
        assert sum(kn.prob(context, w) for w in range(12)) == pytest.approx(1.0, abs=1e-9)
    assert kn.bpc(valid) < 0.5 * unigram_bpc(train, valid, 12)


# -- training -----------------------------------------------------------------------------------
def test_training_learns_and_is_repeatable(small_lyrics, songci300, tmp_path):
    from segue.training.lyrics import LyricsTrainConfig, train_lyrics

    _, record = small_lyrics
    history = record["history"]
    assert history[-1]["valid_bpc"] < history[0]["valid_bpc"] - 0.2
    assert record["best"]["valid_bpc"] < math.log2(record["data"]["vocab"]) - 2
    config = LyricsTrainConfig(embed=8, hidden=16, layers=1, length=16, batch=16, epochs=1, steps=5, cap=500)
    a = train_lyrics(songci300, tmp_path / "a.pt", config, progress=False)["history"]
    b = train_lyrics(songci300, tmp_path / "b.pt", config, progress=False)["history"]
    clockless = lambda rows: [{k: v for k, v in h.items() if k not in ("seconds", "examples_per_s")}  # noqa: E731
                              for h in rows]
    assert clockless(a) == clockless(b)


@pytest.mark.training
def test_corpus_too_small_or_unusable_is_one_line(tmp_path, capsys):
    (tmp_path / "tiny.txt").write_text("明月几时有")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    for corpus, words in (("tiny.txt", "fewer than two training sequences"), ("bin.txt", "binary")):
        assert main(["train", "lyrics", str(tmp_path / corpus), "-o", str(tmp_path / "x.pt"), "-q"]) == 1
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1


# -- export and runtime -------------------------------------------------------------------------
@pytest.mark.training
@pytest.mark.parametrize("cell,inp", [("rnn", "onehot"), ("gru", "embedding"), ("lstm", "onehot")])
def test_export_parity_for_every_cell(cell, inp, songci300, tmp_path):
    from segue.export.lyrics import export_lyrics, parity
    from segue.training.lyrics import LyricsTrainConfig, train_lyrics

    config = LyricsTrainConfig(cell=cell, input=inp, embed=8, hidden=16, layers=2, length=16, batch=16, epochs=1,
                               steps=3, cap=300)
    train_lyrics(songci300, tmp_path / "m.pt", config, progress=False)
    export_lyrics(tmp_path / "m.pt", tmp_path / "m.onnx")
    worst = parity(tmp_path / "m.pt", tmp_path / "m.onnx", read_corpus(songci300)[:300])
    assert worst["steps"] == 300 and worst["logits"] < 1e-4
    net = lyricmodel.LyricModel(tmp_path / "m.onnx")
    assert len(net.codec) == 300 and set(net.state_shapes) == ({"h", "c"} if cell == "lstm" else {"h"})


def test_runtime_scores_the_split_as_torch_does(small_lyrics, exported_lyric_model, songci300):
    from segue.training.lyrics import evaluate, load, load_corpus

    ckpt = load(small_lyrics[0])
    corpus = load_corpus(songci300, ckpt.train, ckpt.codec)
    want = evaluate(ckpt.model, corpus)
    got = lyricmodel.bits_per_char(lyricmodel.LyricModel(exported_lyric_model), corpus.ids, corpus.valid)
    assert got["chars"] == want["chars"] and got["bpc"] == pytest.approx(want["bpc"], abs=1e-4)


def test_segue_lyrics_writes_lines_and_repeats_with_a_seed(small_lyric_model, capsys):
    args = ["lyrics", "明月", "-m", str(small_lyric_model), "--lines", "3", "--seed", "4"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("明月") and len(first.rstrip("\n").split("\n")) == 3
    assert main(args) == 0 and capsys.readouterr().out == first
    assert main(["lyrics", "-m", str(small_lyric_model), "--chars", "25", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) == 25 + 1  # and the final line break


def test_unknown_prime_and_wrong_model_kinds_are_one_line(small_lyric_model, small_model, tmp_path, capsys):
    cases = [
        (["lyrics", "XYZ", "-m", str(small_lyric_model)], "has no character this model knows"),
        (["lyrics", "-m", str(small_model)], "an event model, but this needs a lyric model"),
        (["generate", "-m", str(small_lyric_model), "-o", str(tmp_path / "x.mid")], "a lyric model; segue generate"),
        (["generate", "-o", str(tmp_path / "y.mid"), "--lyrics", "--lyric-model", str(small_model)],
         "an event model, but this needs a lyric model"),
    ]
    for args, words in cases:
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1


def test_a_unknown_character_in_the_prime_is_read_as_unk(small_lyric_model):
    net = lyricmodel.LyricModel(small_lyric_model)
    a, b = net.stream(), net.stream()
    a.feed("明月\u2603")
    b.feed("明月" + UNK)
    assert np.array_equal(a.logits, b.logits)
    assert UNK not in lyricmodel.write(net, "明月", lyricmodel.LyricsConfig(Sampling(), seed=0), chars=400)[0]


# -- lyrics on notes ----------------------------------------------------------------------------
def test_sung_line_has_one_syllable_per_note(small_lyric_model):
    stream = lyricmodel.LyricModel(small_lyric_model).stream()
    noise = GumbelNoise(3)
    for count in (1, 5, 12):
        assert len(lyricmodel.sung_line(stream, count, Sampling(top_k=5), noise)) == count


def test_generate_lays_one_lyric_on_each_note(small_model, small_lyric_model, tmp_path):
    out = tmp_path / "sung.mid"
    assert main(["generate", "-m", str(small_model), "-o", str(out), "-n", "80", "--seed", "3", "--lyrics",
                 "--lyric-model", str(small_lyric_model), "--lyric-prime", "明月"]) == 0
    midi = mido.MidiFile(out, charset="utf-8")
    tick, onsets, sung = 0, [], []
    for msg in midi.tracks[0]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity:
            onsets.append(tick)
        elif msg.type == "lyrics":
            sung.append((tick, msg.text))
    assert onsets and sorted(t for t, _ in sung) == sorted(onsets)
    assert all(len(text.rstrip("\r")) == 1 for _, text in sung)  # one CJK character per note
    assert sung[-1][1].endswith("\r") and sum(text.endswith("\r") for _, text in sung) >= 1


def test_the_shipped_songci_model_writes_ci(capsys):
    net = lyricmodel.LyricModel()  # the default: daemon/models/songci.onnx
    assert net.path.name == "songci.onnx" and "\n" in net.codec.vocab and len(net.codec) == 4000
    assert net.training["metrics"]["valid_bpc"] < 6.3  # what its card reports, from the training record
    assert main(["lyrics", "明月", "--lines", "2", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("明月") and len(out.rstrip("\n").split("\n")) == 2
    assert main(["info", "songci"]) == 0 and "kind: characters (lstm" in capsys.readouterr().out


def test_the_shipped_model_writes_lyrics_not_tune_names(songci300):
    """It learnt from the ci without their titles (--titles drop); the model before printed a tune
    name (满庭芳, 水调歌头) as a line in 58 of 200 lines (benchmarks/lyrics.py --titles)."""
    from segue.daemon.formats.text import read_corpus

    names = {b.strip().split("\n", 1)[0].strip() for b in read_corpus(songci300).split("\n\n") if b.strip()}
    net = lyricmodel.LyricModel()
    assert net.training["train"]["titles"] == "drop"
    printed = [line for seed in range(20)
               for line in lyricmodel.write(net, None, lyricmodel.LyricsConfig(seed=seed), lines=4)[0].split("\n")]
    assert len(printed) >= 80 and not [line for line in printed if line.strip() in names]


def test_a_huge_prime_is_read_from_its_end_only(small_lyric_model, monkeypatch):
    """A megabyte of prime costs what PRIME_CHARS characters cost: its end, where the state forgets the rest."""
    net = lyricmodel.LyricModel(small_lyric_model)
    steps = []
    real = net.step
    monkeypatch.setattr(net, "step", lambda chars, state: (steps.append(1), real(chars, state))[1])
    stream = net.stream()
    stream.feed("明月几时有" * 200_000)
    assert len(steps) == lyricmodel.PRIME_CHARS
