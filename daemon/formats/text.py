"""Text for the lyric models: reading a corpus, the character vocabulary, the held-out split, syllables.

The runtime owns the vocabulary (ARCHITECTURE.md), so training builds its data with this codec and
the exported model carries it in its metadata.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

UNK = "\ufffd"  # index 0: every character outside the vocabulary (U+FFFD REPLACEMENT CHARACTER)
NEWLINES = ("keep", "space")  # a line break is a symbol of its own, or becomes a space (the report's way)


class TextError(ValueError):
    """Text that cannot be used: not UTF-8, binary, empty, too short."""


def read_corpus(path: str | Path) -> str:
    """A UTF-8 text file as a string (BOM dropped, CRLF -> LF); one sentence per way it is unusable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TextError(f"{path}: cannot read ({err.strerror})") from None
    if b"\x00" in data[:65536]:
        raise TextError(f"{path}: a binary file, not text (it holds NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TextError(f"{path}: not UTF-8 text (bad byte at offset {err.start})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TextError(f"{path}: the corpus is empty")
    return text


def drop_titles(text: str) -> str:
    """The text without the first line of each block (blocks are separated by blank lines): a
    corpus whose blocks open with a title (the ci anthologies: the tune's name, 词牌), so that a
    model learns the lyrics, not the titles, and never writes a title as a line."""
    blocks = re.split(r"\n[ \t]*\n", text.strip("\n"))
    return "\n\n".join(body for body in (b.split("\n", 1)[1] if "\n" in b else "" for b in blocks) if body.strip())


def normalise(text: str, newlines: str = "keep") -> str:
    """NFC, control characters other than line breaks dropped, runs of blank lines kept as one."""
    if newlines not in NEWLINES:
        raise ValueError(f"newlines must be one of {', '.join(NEWLINES)}")
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.replace("\n", " ") if newlines == "space" else text


@dataclass(frozen=True)
class CharCodec:
    """Characters <-> ids. `vocab[0]` is UNK; the rest are the corpus's most frequent characters."""

    vocab: tuple[str, ...]
    newlines: str = "keep"

    def __post_init__(self):
        if not self.vocab or self.vocab[0] != UNK or len(set(self.vocab)) != len(self.vocab):
            raise ValueError("a vocabulary starts with the unknown symbol and holds each character once")
        if any(len(ch) != 1 for ch in self.vocab):
            raise ValueError("a vocabulary holds single characters")
        if self.newlines not in NEWLINES:
            raise ValueError(f"newlines must be one of {', '.join(NEWLINES)}")
        object.__setattr__(self, "_index", {ch: i for i, ch in enumerate(self.vocab)})

    @classmethod
    def build(cls, text: str, cap: int = 4000, newlines: str = "keep") -> "CharCodec":
        """The `cap - 1` most frequent characters of `text` (ties: first seen first), plus UNK."""
        if cap < 2:
            raise ValueError("the vocabulary cap must be >= 2 (UNK and one character)")
        counts = Counter(normalise(text, newlines))
        counts.pop(UNK, None)
        ranked = sorted(counts, key=lambda ch: -counts[ch])  # sorted() is stable: insertion order breaks ties
        return cls((UNK, *ranked[: cap - 1]), newlines)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        """ids (int64); characters outside the vocabulary become UNK (0), as in training."""
        index = self._index
        return np.fromiter((index.get(ch, 0) for ch in normalise(text, self.newlines)), np.int64)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"vocab": "".join(self.vocab), "newlines": self.newlines}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "CharCodec":
        data = json.loads(text)
        return cls(tuple(data["vocab"]), data.get("newlines", "keep"))


def split_blocks(n: int, block: int = 1000, every: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Held-out split of `n` characters into contiguous runs: (train spans, validation spans).

    The text is cut into blocks of `block` characters and every `every`-th block (the last of
    each group) is held out, so validation text comes from all over the corpus but is never
    interleaved with training text character by character. Adjacent training blocks merge into
    one span. A corpus shorter than `every` blocks holds out its last tenth instead.
    """
    if block < 2 or every < 2:
        raise ValueError("block and every must be >= 2")
    if n < block * every:
        cut = n - max(1, n // every)
        return [(0, cut)], [(cut, n)]
    train, valid = [], []
    for start in range(0, n, block):
        end = min(n, start + block)
        spans = valid if (start // block) % every == every - 1 else train
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return train, valid


# Syllables: a CJK character is one sung syllable; alphabetic words are hyphenated.
_CJK_RANGES = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK = re.compile(f"[{_CJK_RANGES}]")
_LETTER = f"(?:(?![{_CJK_RANGES}])[^\\W\\d_])"  # a letter of an alphabetic script
_WORD = re.compile(f"{_LETTER}+(?:['\u2019]{_LETTER}+)*")


def is_cjk(ch: str) -> bool:
    """A character of a script sung one character per syllable (Chinese, Japanese kana, Korean)."""
    return bool(_CJK.match(ch))


@lru_cache(maxsize=8)
def _hyphenator(lang: str):
    import pyphen  # small and pure Python: the hyphenation patterns of LibreOffice for 80+ languages

    if lang not in pyphen.LANGUAGES:
        raise ValueError(f"no hyphenation patterns for language {lang!r} (pyphen has {len(pyphen.LANGUAGES)})")
    return pyphen.Pyphen(lang=lang)


def syllables(text: str, lang: str = "en_US") -> list[str]:
    """The sung syllables of `text`, karaoke style: a word split into syllables ends each non-final
    one with "-" ("beau-", "ti-", "ful"); a CJK character is a syllable; punctuation and spaces
    are not sung and are dropped. `lang` picks the hyphenation patterns for alphabetic words.
    """
    out: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if _CJK.match(ch):
            out.append(ch)
            pos += 1
            continue
        word = _WORD.match(text, pos)
        if word is None:
            pos += 1
            continue
        parts = _hyphenator(lang).inserted(word.group(), hyphen="\x00").split("\x00")
        out.extend(p + "-" for p in parts[:-1])
        out.append(parts[-1])
        pos = word.end()
    return out
