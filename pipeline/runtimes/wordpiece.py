"""BERT's WordPiece tokenizer in plain Python, as keras-hub's BertTokenizer runs it in TF.

The LiteRT serving path (pipeline.runtimes.lite) must turn text into token ids without
TensorFlow, whose import alone takes seconds and 700 MiB. This follows keras-hub's own
TensorFlow-free path (`keras_hub.src.tokenizers.word_piece_tokenizer`, which cannot be
imported without TensorFlow): split on whitespace, control characters, punctuation and CJK
characters, keeping punctuation and CJK characters as words; apply Unicode NFKC_Casefold
to each word; then greedy longest-match-first WordPiece. tests/test_lite.py checks it
against the keras-hub tokenizer, and bench/serving_transformer.py on every GOP text.
"""

import functools
import unicodedata

import numpy as np
import regex

_WHITESPACE = r"[ \t\n\r\f]|\p{Cc}|\p{Cf}"  # RE2's \s is ASCII whitespace only
_PUNCTUATION = r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]"
_CJK = (
    r"[\u4E00-\u9FFF]|[\u3400-\u4DBF]|[\U00020000-\U0002A6DF]|[\U0002A700-\U0002B73F]"
    r"|[\U0002B740-\U0002B81F]|[\U0002B820-\U0002CEAF]|[\uF900-\uFAFF]|[\U0002F800-\U0002FA1F]"
)
_SPLIT = regex.compile("|".join([_WHITESPACE, _PUNCTUATION, _CJK]))
_KEEP = regex.compile("|".join([_PUNCTUATION, _CJK]))
# Unicode's Default_Ignorable_Code_Point, which NFKC_Casefold removes.
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
# tf_text.FastWordpieceTokenizer maps words longer than this many UTF-8 bytes to [UNK].
MAX_BYTES_PER_WORD = 100


def casefold(word: str) -> str:
    """Unicode NFKC_Casefold, as tf_text.case_fold_utf8 computes it."""
    word = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())
    return _IGNORABLE.sub("", word)


def split_words(text: str, lowercase: bool = True, strip_accents: bool = False):
    """BERT's pre-tokenization: words, with each punctuation mark and CJK character its own.

    A generator, so a caller that has enough tokens can stop early in a very long text.
    """
    if strip_accents:
        text = unicodedata.normalize("NFD", text)
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    position = 0
    for match in _SPLIT.finditer(text):
        if match.start() > position:
            yield _fold(text[position : match.start()], lowercase)
        if _KEEP.fullmatch(match.group()):
            yield _fold(match.group(), lowercase)
        position = match.end()
    if position < len(text):
        yield _fold(text[position:], lowercase)


def _fold(word: str, lowercase: bool) -> str:
    return casefold(word) if lowercase else word


class WordPiece:
    """Texts -> padded BERT token ids ([CLS] text [SEP], 0 for padding), like keras-hub's
    BertTextClassifierPreprocessor with one segment.

    Args:
        vocabulary: the tokens, in id order.
        sequence_length: tokens per text, [CLS] and [SEP] included; longer texts are cut.
        lowercase: the tokenizer's `lowercase` setting.
        strip_accents: its `strip_accents` setting.
    """

    def __init__(
        self,
        vocabulary: list[str],
        sequence_length: int,
        lowercase: bool = True,
        strip_accents: bool = False,
    ):
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        self.sequence_length = sequence_length
        self.lowercase, self.strip_accents = lowercase, strip_accents
        self.unknown, self.start, self.end = (self.ids[t] for t in ("[UNK]", "[CLS]", "[SEP]"))
        self.word_ids = functools.lru_cache(maxsize=100_000)(self._word_ids)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first WordPiece of one word; [UNK] if it cannot be split."""
        if len(word.encode("utf-8")) > MAX_BYTES_PER_WORD:
            return (self.unknown,)
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    start = end
                    break
            else:
                return (self.unknown,)
        return tuple(pieces)

    def pieces(self, text: str, room: int | None = None) -> list[int]:
        """The word-piece ids of an already cleaned text, without [CLS] and [SEP].

        Args:
            text: a cleaned text.
            room: stop once this many ids are found (more may be returned); None for all.
        """
        ids: list[int] = []
        for word in split_words(text, self.lowercase, self.strip_accents):
            ids.extend(self.word_ids(word))
            if room is not None and len(ids) >= room:
                break
        return ids

    def token_ids(self, texts: list[str]) -> np.ndarray:
        """Token ids of already cleaned texts, shape (n, sequence_length), int32."""
        out = np.zeros((len(texts), self.sequence_length), dtype="int32")
        room = self.sequence_length - 2
        for row, text in enumerate(texts):
            ids = [self.start, *self.pieces(text, room)[:room], self.end]
            out[row, : len(ids)] = ids
        return out
