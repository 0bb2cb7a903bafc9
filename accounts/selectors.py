from accounts.models import User
from huiliao_site.errors import NotFound


def user_get_public(*, user_id, viewer: User) -> User:
    """A profile the viewer may see: their own, an organiser's (staff are public in their
    role), or anyone's for staff. Attendees are known to each other only by their per-room
    display name and avatar; another attendee's profile would tie that name back to the
    person (their WeChat nickname and photo), so it is "no such user" like an unknown id.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not (user.pk == viewer.pk or user.is_staff or viewer.is_staff):
        raise NotFound("No such user.", code="user_not_found")
    return user
