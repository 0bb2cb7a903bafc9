"""Rules for text that people send us."""

import unicodedata


def is_valid_unicode(text: str) -> bool:
    """False for a string with lone surrogates ("\\ud800"), which JSON can carry but no
    database, encoder or client can store or show."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def name_key(name: str) -> str:
    """What two names are compared by: "Ａｌｉｃｅ", "alice" and "ALICE" are one name (NFKC
    folds full-width and compatibility forms, case folding folds case, ß included).
    Invisible format characters (zero-width spaces and joiners) are dropped and runs of
    spaces count as one, so "Ali\u200bce" and "Al  ice" cannot pass for their twins."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    visible = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    return " ".join(visible.split())


def has_control_characters(text: str, *, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)
