from accounts.models import User
from huiliao_site.errors import NotFound


def user_get_public(*, user_id) -> User:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user
