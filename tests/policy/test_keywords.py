# ruff: noqa: RUF001, RUF003  (look-alike letters are what these tests are about)
"""The inbound keyword rule: a message that *is* a keyword (plus politeness) matches, a sentence does not."""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.policy.keyword_lists import FILLERS, KEYWORDS, KOREAN_ENDINGS, LANGUAGES
from gatewayd.policy.keywords import CONFUSABLES, Intent, KeywordMatch, KeywordMatcher, normalise

DOCS = Path(__file__).resolve().parents[2] / "docs" / "keywords.md"
MATCHER = KeywordMatcher()

OUT, IN, HELP, CUSTOM = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP, Intent.CUSTOM

# (message, intent, keyword as listed, language)
MATCHES = [
    # en
    ("STOP", OUT, "STOP", "en"),
    ("stop please", OUT, "STOP", "en"),
    ("STOP!", OUT, "STOP", "en"),
    ("Stop.", OUT, "STOP", "en"),
    ("  stop\n\n", OUT, "STOP", "en"),
    ("please STOP now, thank you!!", OUT, "STOP", "en"),
    ("stop stop STOP", OUT, "STOP", "en"),
    ("🛑STOP🛑", OUT, "STOP", "en"),
    ("Stop all", OUT, "STOP ALL", "en"),
    ("STOPALL", OUT, "STOPALL", "en"),
    ("Unsubscribe me", OUT, "UNSUBSCRIBE", "en"),
    ("cancel", OUT, "CANCEL", "en"),
    ("END", OUT, "END", "en"),
    ("quit!!!", OUT, "QUIT", "en"),
    ("opt-out", OUT, "OPT OUT", "en"),
    ("Opt out", OUT, "OPT OUT", "en"),
    ("OPTOUT", OUT, "OPTOUT", "en"),
    ("revoke", OUT, "REVOKE", "en"),
    ("ok stop", OUT, "STOP", "en"),
    ("START", IN, "START", "en"),
    ("unstop", IN, "UNSTOP", "en"),
    ("Yes!", IN, "YES", "en"),
    ("yes please", IN, "YES", "en"),
    ("join", IN, "JOIN", "en"),
    ("opt in", IN, "OPT IN", "en"),
    ("HELP", HELP, "HELP", "en"),
    ("help me please", HELP, "HELP", "en"),
    ("Help?", HELP, "HELP", "en"),
    ("info", HELP, "INFO", "en"),
    # ru
    ("СТОП", OUT, "СТОП", "ru"),
    ("стоп пожалуйста", OUT, "СТОП", "ru"),
    ("Отписаться!", OUT, "ОТПИСАТЬСЯ", "ru"),
    ("отпишите меня, пожалуйста", OUT, "ОТПИШИТЕ", "ru"),
    ("ОТПИСКА", OUT, "ОТПИСКА", "ru"),
    ("хватит!!!", OUT, "ХВАТИТ", "ru"),
    ("Хва́тит", OUT, "ХВАТИТ", "ru"),  # combining stress mark
    ("старт", IN, "СТАРТ", "ru"),
    ("Подписаться", IN, "ПОДПИСАТЬСЯ", "ru"),
    ("помощь", HELP, "ПОМОЩЬ", "ru"),
    ("ИНФО", HELP, "ИНФО", "ru"),
    # ko
    ("수신거부", OUT, "수신거부", "ko"),
    ("수신 거부", OUT, "수신 거부", "ko"),
    ("수신거부요", OUT, "수신거부", "ko"),
    ("수신거부 해주세요", OUT, "수신거부", "ko"),
    ("수신거부좀해주세요", OUT, "수신거부", "ko"),
    ("중지", OUT, "중지", "ko"),
    ("중지해주세요", OUT, "중지", "ko"),
    ("중지 해 주세요!", OUT, "중지", "ko"),
    ("제발 그만", OUT, "그만", "ko"),
    ("그만좀해", OUT, "그만", "ko"),
    ("거부합니다.", OUT, "거부", "ko"),
    ("해지 부탁드립니다", OUT, "해지", "ko"),
    ("구독 취소", OUT, "구독 취소", "ko"),
    ("시작", IN, "시작", "ko"),
    ("수신동의합니다", IN, "수신동의", "ko"),
    ("도움말", HELP, "도움말", "ko"),
    ("도움말 좀", HELP, "도움말", "ko"),
    # id
    ("BERHENTI", OUT, "BERHENTI", "id"),
    ("tolong berhenti", OUT, "BERHENTI", "id"),
    ("berhenti berlangganan, terima kasih", OUT, "BERHENTI BERLANGGANAN", "id"),
    ("UNREG", OUT, "UNREG", "id"),
    ("Mulai", IN, "MULAI", "id"),
    ("daftar", IN, "DAFTAR", "id"),
    ("bantuan", HELP, "BANTUAN", "id"),
    # es
    ("BAJA", OUT, "BAJA", "es"),
    ("baja por favor", OUT, "BAJA", "es"),
    ("¡Alto!", OUT, "ALTO", "es"),
    ("parar", OUT, "PARAR", "es"),
    ("Darse de baja", OUT, "DARSE DE BAJA", "es"),
    ("dame de baja, gracias", OUT, "DAME DE BAJA", "es"),
    ("ya basta", OUT, "BASTA", "es"),
    ("cancelar", OUT, "CANCELAR", "es"),
    ("alta", IN, "ALTA", "es"),
    ("AYUDA", HELP, "AYUDA", "es"),
    ("¿Información?", HELP, "INFORMACIÓN", "es"),
    ("informacion", HELP, "INFORMACIÓN", "es"),
    # de
    ("STOPP", OUT, "STOPP", "de"),
    ("Abmelden bitte", OUT, "ABMELDEN", "de"),
    ("aufhören!", OUT, "AUFHÖREN", "de"),
    ("AUFHOEREN", OUT, "AUFHOEREN", "de"),
    ("abbestellen, danke", OUT, "ABBESTELLEN", "de"),
    ("anmelden", IN, "ANMELDEN", "de"),
    ("Hilfe", HELP, "HILFE", "de"),
    # fr
    ("ARRÊT", OUT, "ARRÊT", "fr"),
    ("arret", OUT, "ARRÊT", "fr"),
    ("DÉSABONNER", OUT, "DÉSABONNER", "fr"),
    ("desabonner", OUT, "DÉSABONNER", "fr"),
    ("Désabonnez-moi svp", OUT, "DÉSABONNEZ", "fr"),
    ("stop sms", OUT, "STOP SMS", "fr"),
    ("Arrêter s'il vous plaît", OUT, "ARRÊTER", "fr"),
    ("merci, désinscription", OUT, "DÉSINSCRIPTION", "fr"),
    ("démarrer", IN, "DÉMARRER", "fr"),
    ("s'abonner", IN, "S'ABONNER", "fr"),
    ("aide", HELP, "AIDE", "fr"),
    # pt
    ("pare", OUT, "PARE", "pt"),
    ("sair, obrigado", OUT, "SAIR", "pt"),
    ("Chega!", OUT, "CHEGA", "pt"),
    ("descadastrar", OUT, "DESCADASTRAR", "pt"),
    ("começar", IN, "COMEÇAR", "pt"),
    ("comecar", IN, "COMEÇAR", "pt"),
    ("ajuda por favor", HELP, "AJUDA", "pt"),
    # A keyword several languages ship is reported in the first of LANGUAGES that lists it.
    ("PARAR", OUT, "PARAR", "es"),
    ("stop", OUT, "STOP", "en"),
    ("fin", OUT, "FIN", "es"),
    # Look-alike letters, compatibility forms, invisible characters.
    ("SТОР", OUT, "STOP", "en"),                 # Cyrillic Т, О, Р
    ("ЅТОР", OUT, "STOP", "en"),                 # Cyrillic Ѕ too
    ("ΗΕLΡ", HELP, "HELP", "en"),                # Greek Η, Ε, Ρ
    ("ЅТАRТ", IN, "START", "en"),
    ("ＳＴＯＰ", OUT, "STOP", "en"),              # full width
    ("𝐒𝐓𝐎𝐏", OUT, "STOP", "en"),                  # mathematical bold
    ("ⓢⓣⓞⓟ", OUT, "STOP", "en"),                  # circled
    ("S\u200bT\u200dOP", OUT, "STOP", "en"),    # zero-width space and joiner
    ("s\u0336t\u0336o\u0336p\u0336", OUT, "STOP", "en"),  # strikethrough combining marks
    ("ｓｔｏｐ　ｐｌｅａｓｅ", OUT, "STOP", "en"),  # ideographic space
    ("ＢＡＪＡ", OUT, "BAJA", "es"),
    ("ＨＥＬＰ", HELP, "HELP", "en"),
    ("중지", OUT, "중지", "ko"),                # conjoining jamo compose to 중지
]

NO_MATCH = [
    "",
    "   \n ",
    "!!!",
    "🙏🙏",
    "thanks",                                   # only filler
    "please please",
    "don't stop the deals",
    "stop sending me this or I'll sue",
    "Can you stop?",
    "stop it",
    "STOP START",                               # two different keywords
    "yes, Tuesday at 3 is fine",
    "Not STOP",
    "S T O P",
    "stopp it",
    "stopping",
    "nonstop",
    "help wanted",
    "no",
    "ok",
    "SÍ",                                       # deliberately not an opt-in (see keyword_lists)
    "JA",
    "OUI",
    "да",
    "네",
    "중지하지 마세요",                            # "do not stop"
    "그만하지마",
    "거부 안 해요",                              # "I will not refuse"
    "수신거부를 왜 해",
    "не стоп",
    "стоп машина",
    "no me des de baja",
    "bitte nicht abmelden",
    "ne pas arrêter",
    "não parar",
    "jangan berhenti",
    "STOP1",
    "1 STOP 2",
    "s'il vous plaît, arrêtez... non: arrêter",
]


@pytest.mark.parametrize(("text", "intent", "keyword", "language"), MATCHES)
def test_matches(text: str, intent: Intent, keyword: str, language: str) -> None:
    assert MATCHER.match(text) == KeywordMatch(intent, keyword, language)


@pytest.mark.parametrize("text", NO_MATCH)
def test_sentences_and_other_words_do_not_match(text: str) -> None:
    assert MATCHER.match(text) is None


# --- normalise ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("  Hello,\n\tWORLD!! ", "hello world"),
    ("DÉSABONNER", "desabonner"),
    ("Straße", "strasse"),
    ("ＡＢＣ１２３", "abc123"),
    ("don't", "don t"),
    ("opt-out", "opt out"),
    ("ﬁn", "fin"),                              # ligature
    ("İ", "i"),                                 # casefold leaves a combining dot, dropped after Latin
    ("SТОР", "stop"),
    ("СТОП", "ctoп"),                           # П has no Latin twin and stays
    ("ё й", "ё й"),                             # distinct Cyrillic letters survive, not folded to е и
    ("Ё Й", "ё й"),
    ("хва́тит", "xbatиt"),                       # the stress mark goes, the letters fold
    ("수신거부", "수신거부"),
    ("हिंदी", "हिंदी"),                              # Devanagari vowel signs are kept
    ("ά", "a"),                                 # Greek tonos dropped
    ("a\u200bb", "ab"),
    ("1️⃣ stop", "1 stop"),                      # keycap: the emoji parts go, the digit stays
    ("👍🏽", ""),
])
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalise_is_idempotent_and_leaves_only_words(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert all(ch == " " or unicodedata.category(ch)[0] in "LMN" for ch in once)


def test_confusables_are_one_to_one_within_each_script() -> None:
    by_script: dict[str, dict[str, str]] = {}
    for source, target in CONFUSABLES.items():
        script = unicodedata.name(source).split()[0]
        assert script in ("CYRILLIC", "GREEK")
        assert source == source.casefold(), "the map is applied after casefolding"
        assert target in string.ascii_lowercase
        seen = by_script.setdefault(script, {})
        assert target not in seen, f"{source} and {seen.get(target)} both fold to {target}"
        seen[target] = source


def test_capital_and_small_cyrillic_fold_alike() -> None:
    for source, target in CONFUSABLES.items():
        assert normalise(source.upper()) == normalise(source) == target


# --- the shipped lists ---------------------------------------------------------------------------------

def shipped_keywords() -> list[tuple[str, Intent, str]]:
    return [(language, Intent(intent), keyword) for language in LANGUAGES
            for intent, keywords in KEYWORDS[language].items() for keyword in keywords]


def test_lists_cover_the_languages_and_intents_the_issue_names() -> None:
    assert set(KEYWORDS) == set(LANGUAGES) == set(FILLERS) == {"en", "ru", "ko", "id", "es", "de", "fr", "pt"}
    for language in LANGUAGES:
        assert set(KEYWORDS[language]) == {"opt_out", "opt_in", "help"}, language
        assert all(KEYWORDS[language].values()), language
    required = {
        "en": {"opt_out": {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"},
               "opt_in": {"START", "UNSTOP", "YES", "JOIN"}, "help": {"HELP", "INFO"}},
        "ru": {"opt_out": {"СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА", "ХВАТИТ"}, "help": {"ПОМОЩЬ"}},
        "ko": {"opt_out": {"수신거부", "중지", "거부"}, "help": {"도움말"}},
        "id": {"opt_out": {"BERHENTI", "STOP"}, "help": {"BANTUAN"}},
        "es": {"opt_out": {"BAJA", "ALTO", "PARAR", "CANCELAR"}, "help": {"AYUDA"}},
        "de": {"opt_out": {"STOPP", "ABMELDEN"}, "help": {"HILFE"}},
        "fr": {"opt_out": {"ARRÊT", "DÉSABONNER"}, "help": {"AIDE"}},
        "pt": {"opt_out": {"PARAR", "SAIR", "CANCELAR"}, "help": {"AJUDA"}},
    }
    for language, intents in required.items():
        for intent, words in intents.items():
            assert words <= set(KEYWORDS[language][intent]), (language, intent)


@pytest.mark.parametrize(("language", "intent", "keyword"), shipped_keywords())
def test_every_shipped_keyword_matches_itself(language: str, intent: Intent, keyword: str) -> None:
    found = MATCHER.match(keyword)
    assert found is not None
    assert found.intent == intent
    assert normalise(found.keyword) == normalise(keyword)
    assert LANGUAGES.index(found.language or "") <= LANGUAGES.index(language)


@pytest.mark.parametrize("filler", sorted({f for words in FILLERS.values() for f in words} | set(KOREAN_ENDINGS)))
def test_fillers_alone_match_nothing(filler: str) -> None:
    assert MATCHER.match(filler) is None
    assert MATCHER.match(f"{filler} {filler}") is None


def test_no_cyrillic_keyword_folds_onto_a_latin_word() -> None:
    latin = {normalise(w) for words in FILLERS.values() for w in words if w.isascii()}
    latin |= {normalise(kw) for _, _, kw in shipped_keywords() if all(not ch.isalpha() or ch.isascii() or
                                                                     "LATIN" in unicodedata.name(ch) for ch in kw)}
    cyrillic = [kw for _, _, kw in shipped_keywords() if "CYRILLIC" in unicodedata.name(kw[0])]
    assert len(cyrillic) >= 10
    for keyword in cyrillic:
        assert normalise(keyword) not in latin, keyword
    # The Russian STOP keeps its П, so a Latin "CTON"/"CTOP" is not it and the language stays distinct.
    assert MATCHER.match("CTOP") is None
    assert MATCHER.match("cton") is None
    assert MATCHER.match("СТОП") == KeywordMatch(OUT, "СТОП", "ru")
    assert MATCHER.match("STOP") == KeywordMatch(OUT, "STOP", "en")
    # Everyday Latin words made only of foldable letters stay unmatched.
    for word in ("hot", "top", "pop", "moto", "cat", "tax", "box", "home", "ctapt stop"):
        assert MATCHER.match(word) is None, word


def test_the_docs_list_every_shipped_word() -> None:
    text = DOCS.read_text(encoding="utf-8")
    cells = set(re.findall(r"`([^`]+)`", text))
    missing = [kw for _, _, kw in shipped_keywords() if kw not in cells]
    missing += [f for words in FILLERS.values() for f in words if f not in cells]
    missing += [e for e in KOREAN_ENDINGS if e not in cells]
    assert missing == []


def test_the_readme_table_lists_every_shipped_keyword_by_language_and_intent() -> None:
    readme = (DOCS.parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:5]]
            for line in readme.splitlines() if line.startswith("| ") and line.split("|")[1].strip() in LANGUAGES}
    assert set(rows) == set(LANGUAGES)
    for language in LANGUAGES:
        for column, intent in enumerate(("opt_out", "opt_in", "help")):
            assert rows[language][column].split(", ") == list(KEYWORDS[language][intent]), (language, intent)


# --- configuration -------------------------------------------------------------------------------------

def test_config_extras_add_to_the_shipped_lists() -> None:
    matcher = KeywordMatcher(opt_out=["ALTO AHÍ", "Basta ya"], opt_in=["SÍ"], help=["MENU"],
                             custom=["PROMO", "Pizza Friday"], fillers=["mate", "cheers"])
    assert matcher.match("alto ahi!") == KeywordMatch(OUT, "ALTO AHÍ", None)
    assert matcher.match("si") == KeywordMatch(IN, "SÍ", None)
    assert matcher.match("menu") == KeywordMatch(HELP, "MENU", None)
    assert matcher.match("promo please") == KeywordMatch(CUSTOM, "PROMO", None)
    assert matcher.match("PIZZA FRIDAY!!! 🍕") == KeywordMatch(CUSTOM, "Pizza Friday", None)
    assert matcher.match("pizza") is None
    assert matcher.match("stop mate, cheers") == KeywordMatch(OUT, "STOP", "en")
    assert MATCHER.match("stop mate") is None
    assert matcher.match("stop") == MATCHER.match("stop")


def test_extra_keyword_already_shipped_is_harmless() -> None:
    matcher = KeywordMatcher(opt_out=["stop", "Stop!"])
    assert matcher.match("STOP") == KeywordMatch(OUT, "STOP", "en")


def test_without_defaults_only_the_given_words_count() -> None:
    matcher = KeywordMatcher(opt_out=["HALT"], fillers=["pretty please"], defaults=False)
    assert matcher.match("halt") == KeywordMatch(OUT, "HALT", None)
    assert matcher.match("pretty please HALT") == KeywordMatch(OUT, "HALT", None)
    assert matcher.match("halt please") is None
    assert matcher.match("stop") is None
    assert matcher.match("수신거부") is None


def test_longest_keyword_wins_when_a_filler_makes_two_readings() -> None:
    matcher = KeywordMatcher(custom=["STOP NOW"])
    assert matcher.match("stop now") == KeywordMatch(CUSTOM, "STOP NOW", None)
    assert matcher.match("stop please") == KeywordMatch(OUT, "STOP", "en")


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"custom": ["STOP"]}, "STOP"),
    ({"custom": ["Stop!"]}, "Stop!"),
    ({"opt_in": ["ЅТОР"]}, "ЅТОР"),
    ({"help": ["Unsubscribe"]}, "Unsubscribe"),
    ({"opt_out": ["PROMO"], "custom": ["promo"]}, "promo"),
    ({"custom": ["PROMO", "Promo!"]}, "Promo!"),
    ({"custom": ["!!!"]}, "!!!"),
    ({"opt_out": ["  "]}, "  "),
    ({"opt_out": ["please"]}, "please"),
    ({"custom": ["thank you please"]}, "thank you please"),
    ({"fillers": ["stop"]}, "stop"),
    ({"fillers": ["🙂"]}, "🙂"),
    ({"opt_out": ["HALT"], "help": ["halt"], "defaults": False}, "halt"),
])
def test_conflicting_or_empty_words_are_refused_by_name(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(named))):
        KeywordMatcher(**kwargs)  # type: ignore[arg-type]


def test_the_shipped_lists_build_without_conflicts() -> None:
    KeywordMatcher()
    KeywordMatcher(defaults=True, fillers=[], custom=[])


# --- properties ----------------------------------------------------------------------------------------

ALL_FILLERS = sorted({f for words in FILLERS.values() for f in words} | set(KOREAN_ENDINGS))
SEPARATOR = st.lists(st.sampled_from([" ", "\n", "\t", ".", ",", "!", "?", "¡", "¿", "…", "-", "—", "'", '"', "(", ")",
                                      "🛑", "🙏", "😡", "❤️", "‼", "\u3000"]), min_size=1, max_size=4).map("".join)
"""Anything that separates words: a variation selector alone does not (it belongs to the emoji before it)."""


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(ch.upper() if up else ch.lower() for ch, up in zip(text, flips, strict=True))


@st.composite
def keyword_message(draw: st.DrawFn) -> tuple[Intent, str, str]:
    """A shipped keyword, repeated 1-3 times, among fillers and punctuation, in random case."""
    _, intent, keyword = draw(st.sampled_from(shipped_keywords()))
    before = draw(st.lists(st.sampled_from(ALL_FILLERS), max_size=3))
    after = draw(st.lists(st.sampled_from(ALL_FILLERS), max_size=3))
    units = [*before, *[keyword] * draw(st.integers(1, 3)), *after]
    parts = [draw(SEPARATOR) if draw(st.booleans()) else ""]
    for unit in units:
        parts += [draw(random_case(unit)), draw(SEPARATOR)]
    return intent, keyword, "".join(parts)


@settings(max_examples=300, deadline=None)
@given(keyword_message())
def test_any_keyword_among_fillers_and_punctuation_matches(case: tuple[Intent, str, str]) -> None:
    intent, keyword, text = case
    found = MATCHER.match(text)
    assert found is not None, text
    assert found.intent == intent
    assert normalise(found.keyword) == normalise(keyword)


KNOWN_WORDS = {w for phrase in [*ALL_FILLERS, *(kw for _, _, kw in shipped_keywords())]
               for w in normalise(phrase).split()}
OTHER_WORD = st.text(alphabet=string.ascii_letters + "абвгдежзийклмнопрстуфхцчшщыьэюя" + "가나다라마바사",
                     min_size=1, max_size=8).filter(lambda w: not set(normalise(w).split()) & KNOWN_WORDS)


@settings(max_examples=300, deadline=None)
@given(keyword_message(), OTHER_WORD, st.integers(0, 20), SEPARATOR)
def test_one_other_word_anywhere_means_no_match(case: tuple[Intent, str, str], word: str, where: int,
                                                sep: str) -> None:
    _, _, text = case
    cuts = [0, len(text), *(m.end() for m in re.finditer(r"[\s.,!?…()\"'—-]+", text))]
    cut = sorted(cuts)[where % len(cuts)]
    assert MATCHER.match(f"{text[:cut]}{sep}{word}{sep}{text[cut:]}") is None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([kw for _, _, kw in shipped_keywords() if "HANGUL" in unicodedata.name(kw[0])]),
       st.lists(st.sampled_from(KOREAN_ENDINGS), min_size=1, max_size=3))
def test_korean_keywords_take_attached_polite_endings(keyword: str, endings: list[str]) -> None:
    found = MATCHER.match(keyword + "".join(endings))
    assert found is not None
    assert normalise(found.keyword) == normalise(keyword)


@pytest.mark.parametrize(("text", "keyword"), [
    ("stop unsubscribe", "UNSUBSCRIBE"),
    ("STOP СТОП", "СТОП"),
    ("unsubscribe, stop!", "STOP"),
])
def test_keywords_of_one_intent_together_opt_out(text: str, keyword: str) -> None:
    match = KeywordMatcher().match(text)
    assert match is not None
    assert (match.intent, match.keyword) == (Intent.OPT_OUT, keyword)


def test_a_custom_keyword_does_not_combine_with_another() -> None:
    matcher = KeywordMatcher(custom=["PRICE", "HOURS"])
    assert matcher.match("price hours") is None
    assert matcher.match("price price") == KeywordMatch(Intent.CUSTOM, "PRICE", None)
