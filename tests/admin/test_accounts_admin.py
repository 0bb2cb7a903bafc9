from tests.factories import RoomFactory, WechatUserFactory, join


def test_admin_never_shows_openid(superuser_client):
    wechat = WechatUserFactory(nickname="Mini")
    room = RoomFactory(owner=wechat)
    for url in [
        "/admin/rooms/room/",
        f"/admin/rooms/room/{room.pk}/change/",
        "/admin/rooms/membership/",
        f"/admin/accounts/user/{wechat.pk}/change/",
    ]:
        response = superuser_client.get(url)
        assert response.status_code == 200
        assert wechat.openid.encode() not in response.content
    response = superuser_client.get(f"/admin/accounts/user/?q={wechat.openid}")
    assert list(response.context["cl"].result_list) == []


def test_user_admin_not_open_to_organisers(organiser_client, organiser):
    assert organiser_client.get("/admin/accounts/user/").status_code == 403
    assert organiser_client.get(f"/admin/accounts/user/{organiser.pk}/change/").status_code == 403


def test_membership_changelist_never_shows_openid(organiser, organiser_client):
    room = RoomFactory(owner=organiser)
    wechat = WechatUserFactory(nickname="Mini")
    membership = join(room, wechat, display_name="Mini")
    for url in ["/admin/rooms/membership/", f"/admin/rooms/membership/{membership.pk}/change/"]:
        response = organiser_client.get(url)
        assert response.status_code == 200
        assert wechat.openid.encode() not in response.content
