"""The organiser console's messages: list per room, search, hide and unhide; and the
room list's "export history as CSV" action (it lives here because rooms must not import
history)."""

import csv
from collections.abc import Iterator

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from history import services
from history.events import with_sender_names
from history.models import Message
from history.notices import notice_text
from rooms.admin import OwnRoomsFilter, RoomAdmin, can_manage, scoped_to_owner, user_label
from rooms.models import Report, Room

EXPORT_CHUNK = 2000


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "room",
        "seq",
        "sender_name",
        "kind",
        "body_preview",
        "created_at",
        "hidden",
        "review",
        "recalled_at",
    ]
    list_display_links = ["seq"]
    list_filter = [("room", OwnRoomsFilter), "hidden", "review", "kind"]
    search_fields = ["body", "room__code"]
    list_select_related = ["room", "sender"]
    # Newest first, in the direction the (room, seq) index can be read backwards.
    ordering = ["-room", "-seq"]
    fields = [
        "room",
        "seq",
        "sender_name",
        "kind",
        "body",
        "created_at",
        "review",
        "recalled_at",
        "hidden",
    ]
    # Everything but `hidden` is a record. A recalled message's body stays readable here
    # (and only here), for the organiser.
    readonly_fields = [field for field in fields if field != "hidden"]
    actions = ["hide_messages", "unhide_messages"]
    # A room can hold 100,000 messages: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False

    def get_queryset(self, request):
        rows = with_sender_names(super().get_queryset(request)).select_related("room")
        return scoped_to_owner(request, rows, "room__")

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and can_manage(request, obj and obj.room)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_manage(request, obj and obj.room)

    def has_add_permission(self, request):
        return False  # messages are posted by members, in the room

    def has_delete_permission(self, request, obj=None):
        return False  # hide instead: the sequence has no gaps, clients page by it

    def get_list_display(self, request):
        # Organisers know people by their room identity; only superusers, who answer for
        # the accounts, see whose account it was.
        if request.user.is_superuser:
            return [*self.list_display, "sender_account"]
        return self.list_display

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return [*self.readonly_fields, "sender_account"]
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return [*self.fields, "sender_account"]
        return self.fields

    @admin.display(description=_("sender"), ordering="sender_display_name")
    def sender_name(self, message: Message) -> str:
        if message.kind == Message.Kind.SYSTEM or message.sender_id is None:
            return gettext("(system)")
        return message.sender_display_name

    @admin.display(description=_("account"))
    def sender_account(self, message: Message) -> str:
        return user_label(message.sender) if message.sender_id is not None else ""

    @admin.display(description=_("message"))
    def body_preview(self, message: Message) -> str:
        if message.event:  # a notice, in the reader's language
            return notice_text(message.event, message.params or {})
        return Truncator(message.body).chars(80)

    def save_model(self, request, obj, form, change):
        if "hidden" in form.changed_data:
            fresh = Message.objects.select_related("room").get(pk=obj.pk)
            services.message_set_hidden(
                message=fresh, hidden=form.cleaned_data["hidden"], actor=request.user
            )

    def _set_hidden(self, request: HttpRequest, queryset: QuerySet[Message], hidden: bool) -> int:
        changed = 0
        for message in queryset.select_related("room").filter(hidden=not hidden):
            services.message_set_hidden(message=message, hidden=hidden, actor=request.user)
            changed += 1
        return changed

    @admin.action(description=_("Hide from everyone"), permissions=["change"])
    def hide_messages(self, request, queryset):
        count = self._set_hidden(request, queryset, True)
        self.message_user(
            request,
            ngettext("Hid %(count)d message.", "Hid %(count)d messages.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Show again"), permissions=["change"])
    def unhide_messages(self, request, queryset):
        count = self._set_hidden(request, queryset, False)
        self.message_user(
            request,
            ngettext("Showed %(count)d message again.", "Showed %(count)d messages again.", count)
            % {"count": count},
            messages.SUCCESS,
        )


# --- Reports ----------------------------------------------------------------------------


class OpenReportsFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("waiting for a decision")), ("no", _("settled"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The report queue for the admin: settling a report keeps or hides its message (the
    same services as the room page's queue), which settles every report on it."""

    list_display = [
        "created_at",
        "room",
        "seq",
        "message_preview",
        "reason",
        "text",
        "outcome",
        "resolved_at",
    ]
    list_filter = [OpenReportsFilter, ("room", OwnRoomsFilter), "reason", "outcome"]
    list_select_related = ["room"]
    actions = ["keep_messages", "hide_reported_messages"]
    fields = [
        "room",
        "seq",
        "message_preview",
        "reason",
        "text",
        "created_at",
        "outcome",
        "resolved_at",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request):
        body = Message.objects.filter(room=OuterRef("room_id"), seq=OuterRef("seq"))
        rows = (
            super().get_queryset(request).annotate(message_body=Subquery(body.values("body")[:1]))
        )
        return scoped_to_owner(request, rows, "room__")

    @admin.display(description=_("message"))
    def message_preview(self, report: Report) -> str:
        return Truncator(report.message_body or "").chars(80)

    def has_add_permission(self, request):
        return False  # members report from the room

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and can_manage(request, obj and obj.room)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_manage(request, obj and obj.room)

    def _settle(self, request, queryset, *, hide: bool) -> int:
        pairs = set(queryset.values_list("room_id", "seq"))
        settled = 0
        for room_id, seq in sorted(pairs):
            message = (
                Message.objects.select_related("room").filter(room_id=room_id, seq=seq).first()
            )
            if message is None:
                continue
            if hide:
                services.message_hide(message=message, actor=request.user)
            else:
                services.message_unhide(message=message, actor=request.user)
            settled += 1
        return settled

    @admin.action(description=_("Keep the messages (settle their reports)"), permissions=["change"])
    def keep_messages(self, request, queryset):
        count = self._settle(request, queryset, hide=False)
        self.message_user(
            request,
            ngettext("Kept %(count)d message.", "Kept %(count)d messages.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Hide the messages (settle their reports)"), permissions=["change"])
    def hide_reported_messages(self, request, queryset):
        count = self._settle(request, queryset, hide=True)
        self.message_user(
            request,
            ngettext("Hid %(count)d message.", "Hid %(count)d messages.", count) % {"count": count},
            messages.SUCCESS,
        )


# --- CSV export of a room's history ------------------------------------------------------


class Echo:
    """A write-only file whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """Text a member wrote, made inert for spreadsheets: a cell starting with = + - @ is a
    formula to Excel (it could fetch URLs or run commands on the organiser's machine), so it
    is prefixed with an apostrophe, which the spreadsheet shows as text."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def messages_for_export(*, room_ids: list[int]) -> Iterator[Message]:
    """Every message of the rooms, room by room in seq order, read in chunks so that a
    large room never sits in memory at once."""
    rows = with_sender_names(Message.objects.filter(room_id__in=room_ids)).select_related("room")
    return rows.order_by("room__code", "seq").iterator(chunk_size=EXPORT_CHUNK)


def export_lines(*, room_ids: list[int]) -> Iterator[str]:
    """The CSV, line by line: a BOM (so that Excel reads UTF-8, and so Chinese, correctly),
    a header, then one line per message."""
    # Translate now: the lines are produced while the response streams, after the view
    # (and the request's language) has returned.
    header = [
        gettext("room"),
        gettext("seq"),
        gettext("time"),
        gettext("kind"),
        gettext("sender"),
        gettext("message"),
        gettext("hidden"),
    ]
    kinds = {value: str(label) for value, label in Message.Kind.choices}
    yes = gettext("yes")
    language = translation.get_language()  # notices in the organiser's language
    writer = csv.writer(Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"
        yield writer.writerow(header)
        for message in messages_for_export(room_ids=room_ids):
            is_text = message.kind == Message.Kind.TEXT and message.sender_id is not None
            sender = message.sender_display_name if is_text else ""
            yield writer.writerow(
                [
                    message.room.code,
                    message.seq,
                    timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    kinds.get(message.kind, message.kind),
                    csv_text(sender),
                    csv_text(
                        notice_text(message.event, message.params or {}, language)
                        if message.event
                        else message.body
                    ),
                    yes if message.hidden else "",
                ]
            )

    return lines()


@admin.action(description=_("Export history as CSV"), permissions=["view"])
def export_history(modeladmin, request, queryset):
    rooms = dict(queryset.values_list("pk", "code"))
    codes = sorted(rooms.values())
    filename = f"huiliao-{codes[0]}.csv" if len(codes) == 1 else "huiliao-rooms.csv"
    body = (line.encode("utf-8") for line in export_lines(room_ids=list(rooms)))
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class RoomWithHistoryAdmin(RoomAdmin):
    """The rooms admin plus what only the history app can do (rooms does not know about
    messages): the CSV export. Registered in place of rooms' own."""

    actions = [*RoomAdmin.actions, export_history]


admin.site.unregister(Room)
admin.site.register(Room, RoomWithHistoryAdmin)
