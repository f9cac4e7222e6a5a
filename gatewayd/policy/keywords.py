# ruff: noqa: RUF001, RUF002, RUF003  (look-alike letters are this module's subject)
"""Inbound keywords: is this SMS a STOP, a START, a HELP or a custom keyword, in any shipped language?

Pure code, no I/O: the queue calls :meth:`KeywordMatcher.match` on every whole inbound message and acts
on the answer (gatewayd/policy/inbound.py). Getting STOP wrong either way is costly: a missed opt-out
keeps texting someone who said no, a false one silences a customer who wrote "don't stop the deals".
So the rule is strict and simple enough to explain to an operator (docs/keywords.md):

1. The text is normalised (:func:`normalise`): NFKC, case folded, accents dropped from Latin (and
   Greek) letters, Cyrillic and Greek letters that look like Latin ones folded to those, everything
   that is not a letter or a digit (punctuation, symbols, emoji, line breaks) turned into a space.
   Keywords and fillers go through the same function, so the folding is symmetric.
2. The result is split into words. A Korean word may carry an attached polite ending
   ("수신거부요", "중지해주세요"): an ending from ``KOREAN_ENDINGS`` is split off (up to
   :data:`MAX_ATTACHED_ENDINGS` times) when what remains is a known keyword or filler word.
3. Filler words (polite words, greetings, "now", "me" and their equivalents, several words long in
   places: "thank you", "s'il vous plaît") may appear anywhere and are ignored.
4. What remains must be keywords of one intent only (a keyword may be several words: "opt out",
   "darse de baja"): "stop", "stop stop", "STOP UNSUBSCRIBE" and "STOP СТОП" all opt out, and the
   match names the last keyword. Any other word left over means no match, and the operator sees the
   message as unmatched. Keywords of two intents ("stop start") do not match; a custom keyword
   combines with nothing but itself.

If the words can be read as two different keywords (a custom "STOP NOW" where "now" is also a filler),
the reading that covers more words with keywords wins, then the keyword registered first (shipped
lists in the order of ``LANGUAGES`` before config extras, opt-out before opt-in before help before
custom).

The look-alike folding maps each Cyrillic or Greek letter to the Latin letter its *capital* resembles
(case is folded first, so the mapping cannot depend on case): "SТОР" typed with Cyrillic Т, О, Р is
the English STOP. Within each script the mapping is one-to-one, so two different Russian words never
fold to the same thing; letters without a Latin twin (П, И, Ж...) stay as they are, so "СТОП" remains
the Russian keyword. Cyrillic Й and Ё are distinct letters and are kept; only combining marks left
loose after Cyrillic letters (stress marks) are dropped.
"""

from __future__ import annotations

import enum
import functools
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from gatewayd.policy.keyword_lists import FILLERS, KEYWORDS, KOREAN_ENDINGS, LANGUAGES

LOGGER = logging.getLogger(__name__)

MAX_ATTACHED_ENDINGS: Final = 3
"""Korean endings split off one word at most ("수신거부좀해주세요" needs two)."""

CONFUSABLES: Final[dict[str, str]] = {
    # Cyrillic, by what the capital looks like: В is B, Н is H, so в -> b and н -> h.
    "а": "a", "в": "b", "е": "e", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ӏ": "l",
    # Greek (after accents are dropped).
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m",
    "ν": "n", "ο": "o", "ρ": "p", "τ": "t", "υ": "y", "χ": "x",
}
"""Case-folded Cyrillic and Greek letters -> the Latin letter they are mistaken for (a confusable skeleton)."""

_FOLDED_SCRIPTS: Final = ("LATIN", "GREEK", "CYRILLIC")
_STRIP_ACCENTS: Final = ("LATIN", "GREEK")


class Intent(enum.StrEnum):
    """What a matched message asks for; CUSTOM is a config keyword whose reply and webhook the caller owns."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CUSTOM = "custom"


@dataclass(frozen=True)
class KeywordMatch:
    intent: Intent
    keyword: str
    """The keyword as listed: "STOP", "СТОП", or a config keyword as written there."""
    language: str | None
    """A shipped language ("en", "ru", ...), or None for config keywords (extras and custom)."""


class _Kind(enum.Enum):
    FOLDED_LETTER = enum.auto()   # Latin, Greek, Cyrillic: combining marks after it are dropped
    OTHER_LETTER = enum.auto()    # Hangul, Devanagari...: combining marks after it belong to it
    MARK = enum.auto()
    DIGIT = enum.auto()
    INVISIBLE = enum.auto()       # zero-width characters: removed, so "S\u200bTOP" is still STOP
    SEPARATOR = enum.auto()       # punctuation, symbols, emoji, spaces, controls


@functools.lru_cache(maxsize=4096)
def _classify(ch: str) -> tuple[_Kind, str]:
    category = unicodedata.category(ch)
    if category[0] == "L":
        script = unicodedata.name(ch, "").split(" ", 1)[0]
        if script not in _FOLDED_SCRIPTS:
            return _Kind.OTHER_LETTER, ch
        if script in _STRIP_ACCENTS:
            ch = "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c)[0] != "M")
        return _Kind.FOLDED_LETTER, "".join(CONFUSABLES.get(c, c) for c in ch)
    if category[0] == "M":
        return _Kind.MARK, ch
    if category[0] == "N":
        return _Kind.DIGIT, ch
    if category == "Cf":
        return _Kind.INVISIBLE, ""
    return _Kind.SEPARATOR, " "


def normalise(text: str) -> str:
    """The form keywords are compared in: NFKC, casefolded, look-alikes folded, only words and single spaces.

    Idempotent, so a keyword list can be stored normalised and normalised again without changing.
    Combining marks survive only after letters of scripts that are not folded (Devanagari vowel signs
    are part of the word; an accent on a Latin letter or a stress mark on a Cyrillic one is not).
    """
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    out: list[str] = []
    marks_belong = False
    for ch in text:
        kind, replacement = _classify(ch)
        if kind is _Kind.MARK:
            if marks_belong:
                out.append(replacement)
            continue
        if kind is not _Kind.INVISIBLE:
            marks_belong = kind is _Kind.OTHER_LETTER
        out.append(replacement)
    # Removing invisible characters and marks can bring Hangul jamo together: compose them again.
    return " ".join(unicodedata.normalize("NFKC", "".join(out)).split())


@dataclass(frozen=True)
class _Entry:
    intent: Intent
    keyword: str
    language: str | None
    words: tuple[str, ...]
    order: int


class KeywordMatcher:
    """Shipped keyword lists plus config extras, compiled once; :meth:`match` is then cheap and pure.

    Built once per configuration (the config loader turns the ValueError into a config error naming
    the ``keywords`` key), so every conflict is found before the daemon starts, not at the first SMS.
    """

    def __init__(self, *, opt_out: Iterable[str] = (), opt_in: Iterable[str] = (), help: Iterable[str] = (),
                 custom: Iterable[str] = (), fillers: Iterable[str] = (), defaults: bool = True) -> None:
        """Extra keywords and fillers from config are added to the shipped ones; ``defaults=False``
        leaves out the shipped keywords, fillers and Korean endings, so only the given words count.

        Raises ValueError naming the word when a keyword or filler has no letters or digits, a keyword
        is claimed by two intents (STOP also configured as custom), two custom keywords are the same
        once normalised, a keyword is made only of filler words, or a filler is also a keyword.
        """
        self._endings: tuple[str, ...] = ()
        self._fillers: dict[tuple[str, ...], str] = {}
        self._entries: dict[tuple[str, ...], _Entry] = {}
        if defaults:
            self._endings = tuple(sorted({normalise(e) for e in KOREAN_ENDINGS}, key=len, reverse=True))
            for words in FILLERS.values():
                self._add_fillers(words)
            self._add_fillers(KOREAN_ENDINGS)
        self._add_fillers(fillers)
        if defaults:
            for language in LANGUAGES:
                for intent in (Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP):
                    for keyword in KEYWORDS[language].get(intent.value, ()):
                        self._add_keyword(intent, keyword, language)
        for intent, keywords in ((Intent.OPT_OUT, opt_out), (Intent.OPT_IN, opt_in), (Intent.HELP, help),
                                 (Intent.CUSTOM, custom)):
            for keyword in keywords:
                self._add_keyword(intent, keyword, None)

        self._by_first_word: dict[str, list[tuple[tuple[str, ...], _Entry | None]]] = {}
        for words in self._fillers:
            self._by_first_word.setdefault(words[0], []).append((words, None))
        for words, entry in self._entries.items():
            self._by_first_word.setdefault(words[0], []).append((words, entry))
        self._known_words = frozenset(w for words in (*self._fillers, *self._entries) for w in words)
        LOGGER.debug("keyword matcher: %d keywords, %d fillers", len(self._entries), len(self._fillers))

    def _add_fillers(self, fillers: Iterable[str]) -> None:
        for filler in fillers:
            words = tuple(normalise(filler).split())
            if not words:
                raise ValueError(f"filler {filler!r} has no letters or digits")
            self._fillers.setdefault(words, filler)

    def _add_keyword(self, intent: Intent, keyword: str, language: str | None) -> None:
        words = tuple(normalise(keyword).split())
        if not words:
            raise ValueError(f"keyword {keyword!r} has no letters or digits")
        if words in self._fillers:
            raise ValueError(f"{intent} keyword {keyword!r} is also the filler {self._fillers[words]!r}")
        if self._only_fillers(words):
            raise ValueError(f"keyword {keyword!r} is made only of filler words and could never match")
        existing = self._entries.get(words)
        if existing is None:
            self._entries[words] = _Entry(intent, keyword, language, words, len(self._entries))
        elif existing.intent != intent:
            raise ValueError(f"keyword {keyword!r} is claimed by both {existing.intent} "
                             f"({existing.keyword!r}) and {intent}")
        elif intent is Intent.CUSTOM:
            raise ValueError(f"custom keyword {keyword!r} is the same as custom keyword {existing.keyword!r}")

    def _only_fillers(self, words: tuple[str, ...]) -> bool:
        """Whether the words can be read entirely as filler phrases."""
        ends = {0}
        for i in range(len(words)):
            if i in ends:
                ends.update(i + len(f) for f in self._fillers if words[i:i + len(f)] == f)
        return len(words) in ends

    def _split_endings(self, word: str, depth: int = 0) -> list[str] | None:
        """The word as known words plus attached Korean endings, or None if it cannot be read so."""
        if word in self._known_words:
            return [word]
        if depth == MAX_ATTACHED_ENDINGS:
            return None
        for ending in self._endings:
            if len(word) > len(ending) and word.endswith(ending):
                head = self._split_endings(word[:-len(ending)], depth + 1)
                if head is not None:
                    return [*head, ending]
        return None

    def match(self, text: str) -> KeywordMatch | None:
        """The keyword this whole message is, or None (see the module docstring for the rule)."""
        words: list[str] = []
        for word in normalise(text).split():
            parts = self._split_endings(word)
            if parts is None:
                return None  # a word that is neither keyword nor filler: a sentence, not a keyword
            words.extend(parts)
        # reach[i]: ways to read words[:i] -> {keyword used so far (None: fillers only): words it covers}
        reach: list[dict[_Entry | None, int]] = [{} for _ in range(len(words) + 1)]
        reach[0][None] = 0
        for i, word in enumerate(words):
            if not reach[i]:
                continue
            for phrase, entry in self._by_first_word.get(word, ()):
                end = i + len(phrase)
                if tuple(words[i:end]) != phrase:
                    continue
                for used, covered in reach[i].items():
                    if entry is None:
                        reach[end][used] = max(reach[end].get(used, 0), covered)
                    elif used is None or used is entry or (used.intent == entry.intent != Intent.CUSTOM):
                        reach[end][entry] = max(reach[end].get(entry, 0), covered + len(phrase))
        readings = [(covered, -entry.order, entry) for entry, covered in reach[-1].items() if entry is not None]
        if not readings:
            return None
        best = max(readings, key=lambda r: (r[0], r[1]))[2]
        return KeywordMatch(intent=best.intent, keyword=best.keyword, language=best.language)
