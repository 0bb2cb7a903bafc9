"""DRF's token authentication, minus a crash: PostgreSQL refuses a NUL in a query, so a
forged `Authorization: Token` header holding one would be a 500 instead of a 401."""

from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if "\x00" in key:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
