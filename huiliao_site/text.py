"""Rules for text that people send us."""


def is_valid_unicode(text: str) -> bool:
    """False for a string with lone surrogates ("\\ud800"), which JSON can carry but no
    database, encoder or client can store or show."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
