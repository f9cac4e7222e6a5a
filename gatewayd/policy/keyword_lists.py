# ruff: noqa: RUF001  (Cyrillic keywords are meant to be Cyrillic)
"""The keyword lists gatewayd ships: what recipients really type to leave, come back or ask for help.

Data only, so that a translator can review a language without reading the matcher
(gatewayd/policy/keywords.py) and docs/keywords.md can be checked against it. Keywords are written as
people write them (upper case, with accents); the matcher normalises both sides, so "ARRÊT" also
covers "arret" and "Arrêt", and "OPT OUT" also covers "opt-out". A keyword shared by several languages
("STOP", "INFO") is listed in each for completeness; the matcher reports the first language of
:data:`LANGUAGES` that lists it.

Deliberately absent: one-syllable "yes" words other than English YES (SÍ, JA, OUI, SIM, YA, ДА, 네).
They are everyday answers to other questions ("is Tuesday fine?"), and reading them as a renewed
consent after an opt-out would be wrong more often than right. English YES stays because carrier rules
(CTIA) name it as an opt-in keyword. Operators who want the others add them under ``keywords.opt_in``.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final[tuple[str, ...]] = ("en", "ru", "ko", "id", "es", "de", "fr", "pt")
"""Shipped languages, in the order that decides which one a shared keyword is reported in."""

KEYWORDS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "opt_out": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT",
                    "REVOKE"),
        "opt_in": ("START", "UNSTOP", "YES", "JOIN", "SUBSCRIBE", "OPTIN", "OPT IN"),
        "help": ("HELP", "INFO"),
    },
    "ru": {
        "opt_out": ("СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА", "ОТПИШИТЕ", "ХВАТИТ", "ОТМЕНА", "ОТКАЗ"),
        "opt_in": ("СТАРТ", "ПОДПИСАТЬСЯ", "ВОЗОБНОВИТЬ"),
        "help": ("ПОМОЩЬ", "СПРАВКА", "ИНФО"),
    },
    "ko": {
        "opt_out": ("수신거부", "수신 거부", "거부", "중지", "그만", "해지", "취소", "구독취소", "구독 취소", "탈퇴"),
        "opt_in": ("시작", "수신동의", "구독", "가입"),
        "help": ("도움말", "도움", "정보", "안내"),
    },
    "id": {
        "opt_out": ("STOP", "BERHENTI", "BERHENTI BERLANGGANAN", "UNREG", "BATAL", "KELUAR"),
        "opt_in": ("MULAI", "DAFTAR", "GABUNG", "BERLANGGANAN", "REG"),
        "help": ("BANTUAN", "INFO"),
    },
    "es": {
        "opt_out": ("BAJA", "DARSE DE BAJA", "DAR DE BAJA", "DAME DE BAJA", "ALTO", "PARAR", "PARA", "DETENER",
                    "CANCELAR", "BASTA", "FIN"),
        "opt_in": ("ALTA", "DARSE DE ALTA", "SUSCRIBIR", "SUSCRIBIRME", "COMENZAR"),
        "help": ("AYUDA", "INFO", "INFORMACIÓN"),
    },
    "de": {
        "opt_out": ("STOPP", "STOP", "ABMELDEN", "ABBESTELLEN", "AUFHÖREN", "AUFHOEREN", "BEENDEN", "ENDE",
                    "KÜNDIGEN", "KUENDIGEN"),
        "opt_in": ("START", "STARTEN", "ANMELDEN", "ABONNIEREN"),
        "help": ("HILFE", "INFO"),
    },
    "fr": {
        "opt_out": ("STOP", "STOP SMS", "ARRÊT", "ARRÊTER", "DÉSABONNER", "SE DÉSABONNER", "DÉSABONNEZ",
                    "DÉSABONNEMENT", "DÉSINSCRIRE", "DÉSINSCRIVEZ", "DÉSINSCRIPTION", "ANNULER", "FIN"),
        "opt_in": ("DÉMARRER", "ABONNER", "S'ABONNER"),
        "help": ("AIDE", "INFO"),
    },
    "pt": {
        "opt_out": ("PARAR", "PARE", "PARA", "CHEGA", "SAIR", "CANCELAR", "DESCADASTRAR", "STOP"),
        "opt_in": ("INICIAR", "COMEÇAR", "ASSINAR"),
        "help": ("AJUDA", "INFO"),
    },
}
"""language -> intent value ("opt_out", "opt_in", "help") -> keywords, as people write them."""

FILLERS: Final[dict[str, tuple[str, ...]]] = {
    "en": ("please", "pls", "plz", "thanks", "thank you", "thx", "now", "me", "sorry", "ok", "okay", "hi", "hello",
           "hey"),
    "ru": ("пожалуйста", "пжл", "спасибо", "меня", "мне", "сейчас", "здравствуйте", "привет"),
    "ko": ("제발", "좀", "감사합니다", "고맙습니다", "안녕하세요", "지금"),
    "id": ("tolong", "mohon", "terima kasih", "makasih", "sekarang", "saya"),
    "es": ("por favor", "porfa", "porfavor", "gracias", "muchas gracias", "ya", "ahora", "me", "hola"),
    "de": ("bitte", "danke", "danke schön", "dankeschön", "jetzt", "sofort", "mich", "hallo"),
    "fr": ("s'il vous plaît", "s'il te plaît", "svp", "stp", "merci", "merci beaucoup", "maintenant", "moi",
           "bonjour"),
    "pt": ("por favor", "pfv", "obrigado", "obrigada", "agora", "me", "olá", "oi"),
}
"""Words that may surround a keyword without changing what the message means: politeness, greetings,
"now", and the addressee ("unsubscribe me"). Never a word that could turn the keyword into a sentence."""

KOREAN_ENDINGS: Final[tuple[str, ...]] = (
    "요", "좀", "해", "해요", "해줘", "해줘요", "주세요", "해주세요", "합니다", "할게요", "하겠습니다", "시켜주세요",
    "부탁해요", "부탁합니다", "부탁드립니다",
)
"""Polite endings Korean writes attached to the word before ("수신거부요", "중지해주세요", "그만좀해").

The matcher splits one of these off the end of a word (up to a few times) only when what is left is a
known keyword or filler, and also accepts each of them as a separate filler word ("중지 해주세요").
None of them is a negation: "중지하지 마세요" (do not stop) keeps its 하지/마세요 and never matches.
"""
