"""Which words a language knows, for the rule that a digit may become a letter only when the
result is a known word (``PJU6A`` must never become ``PJUGA``, a broken address code).

The word lists are the ones ``pyspellchecker`` ships inside its wheel (English, French,
German, Spanish, Portuguese, Italian, Dutch, ...), read once per model process. Languages
follow ``ocr.languages`` (Tesseract codes, ``eng+fra``); English is always included, since
receipts in every language print English words (``TOTAL``, ``CASH``)."""

from __future__ import annotations

import gzip
import json
from importlib import resources

#: Tesseract language code -> pyspellchecker's word list.
WORD_LISTS = {"eng": "en", "fra": "fr", "deu": "de", "spa": "es", "por": "pt", "ita": "it",
              "nld": "nl"}


class Lexicon:
    """A set of lower-case words; ``word in lexicon`` ignores case."""

    def __init__(self, words: frozenset[str]) -> None:
        self._words = words

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.lower() in self._words

    def __len__(self) -> int:
        return len(self._words)


def load_lexicon(languages: str) -> Lexicon:
    """The words of English and of every language of ``languages`` that has a word list."""
    codes = {"en"} | {WORD_LISTS[c] for c in languages.split("+") if c in WORD_LISTS}
    words: set[str] = set()
    folder = resources.files("spellchecker") / "resources"
    for code in sorted(codes):
        with (folder / f"{code}.json.gz").open("rb") as raw, gzip.open(raw, "rt",
                                                                       encoding="utf-8") as f:
            words.update(word.lower() for word in json.load(f))
    return Lexicon(frozenset(words))
