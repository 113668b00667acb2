"""How much of a text a saved model reads.

Every model reads a bounded input, and cuts a longer text there without a word:
- a transformer, `sequence_length` word pieces of its cleaned text, [CLS] and [SEP] included;
- `fasttext`, the character n-grams of the first `output_sequence_length + 2` characters of
  its cleaned text (its shortest n-grams alone fill the sequence from there on);
- `lstm`, the first `output_sequence_length` words of its cleaned text.

`InputWindow.words_read` turns that into what a user can check: how many of the text's
words the model read. The Predict tab says so when it is not all of them, and explains only
those words. The limits are read from the `.keras` file, as the serving paths read them.
Nothing here imports TensorFlow.
"""

import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pipeline.runtimes.wordpiece import WordPiece
from pipeline.text import Cleaner

_READERS = ("TextVectorization", "BertTextClassifierPreprocessor")
VOCABULARY_SUFFIX = "tokenizer/vocabulary.txt"


@dataclass(frozen=True)
class Reader:
    """One input of a model: its cleaning, how a cleaned text is measured, and the most it
    takes (a pair has two)."""

    clean: Cleaner
    measure: Callable[[str], int]
    limit: int
    unit: str

    def fits(self, text: str) -> bool:
        return self.measure(self.clean(text)) <= self.limit


def _words_fitting(words: list[str], fits: Callable[[str], bool]) -> int:
    """The most leading words whose text fits (a binary search: fitting is monotone)."""
    if fits(" ".join(words)):
        return len(words)
    low, high = 0, len(words) - 1  # the answer is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if fits(" ".join(words[:middle])):
            low = middle
        else:
            high = middle - 1
    return low


class InputWindow:
    """The inputs of one saved model; a text is read whole when it fits all of them.

    Args:
        readers: one Reader per input (per member of a pair).
    """

    def __init__(self, readers: list[Reader]):
        self.readers = readers

    def fits(self, text: str) -> bool:
        return all(reader.fits(text) for reader in self.readers)

    def words_read(self, text: str) -> int:
        """How many of the text's leading words (split on whitespace) every input reads whole.

        Args:
            text: a raw text.

        Returns:
            The number of words, from 0 to all of them.
        """
        return _words_fitting(text.split(), self.fits)

    def words_counted(self, text: str) -> int:
        """How many leading words any input reads any part of: nothing after them counts.

        Args:
            text: a raw text.

        Returns:
            The number of words, from 0 to all of them.
        """
        words = text.split()
        return min(
            len(words), max((_words_fitting(words, r.fits) + 1 for r in self.readers), default=0)
        )

    def describe(self) -> str:
        """The limits, e.g. "48 word pieces; 402 characters"."""
        return "; ".join(f"{reader.limit:,} {reader.unit}" for reader in self.readers)


def _layers(config) -> Iterator[tuple[str, dict]]:
    """(class name, config) of every layer in a saved model's config, in order."""
    if isinstance(config, dict):
        if "class_name" in config and isinstance(config.get("config"), dict):
            yield config["class_name"], config["config"]
        for value in config.values():
            yield from _layers(value)
    elif isinstance(config, list):
        for value in config:
            yield from _layers(value)


def _reader(cleaning: dict, kind: str, layer: dict, tokenizer: dict | None, vocabulary) -> Reader:
    clean = Cleaner.from_config(cleaning)
    if kind == "BertTextClassifierPreprocessor":
        wordpiece = WordPiece(
            vocabulary, layer["sequence_length"], tokenizer["lowercase"], tokenizer["strip_accents"]
        )
        return Reader(
            clean, lambda t: len(wordpiece.pieces(t)) + 2, layer["sequence_length"], "word pieces"
        )
    length = layer["output_sequence_length"]
    if layer.get("split") == "character":
        return Reader(clean, len, length + min(layer.get("ngrams") or (1,)) - 1, "characters")
    return Reader(clean, lambda t: len(t.split()), length, "words")


def read_window(model_path) -> InputWindow:
    """The input window of a saved model file (`model.keras`).

    Args:
        model_path: the file.

    Returns:
        Its InputWindow; one reader for each cleaning layer followed by its vectorizer or
        preprocessor.
    """
    with zipfile.ZipFile(model_path) as archive:
        config = json.loads(archive.read("config.json"))
        names = [n for n in archive.namelist() if n.endswith(VOCABULARY_SUFFIX)]
        vocabulary = archive.read(names[0]).decode("utf-8").split("\n") if names else []
    if vocabulary and vocabulary[-1] == "":
        vocabulary = vocabulary[:-1]
    layers = list(_layers(config))
    tokenizer = next((c for kind, c in layers if kind == "BertTokenizer"), None)
    readers, cleaning = [], None
    for kind, layer in layers:
        if kind == "CleanText":
            cleaning = layer
        elif kind in _READERS and cleaning is not None:
            readers.append(_reader(cleaning, kind, layer, tokenizer, vocabulary))
            cleaning = None
    return InputWindow(readers)
