"""The organiser console: rooms and their members.

Organisers are staff users in the "Organisers" group (made by accounts' migration 0002);
they see and change only the rooms they own, and those rooms' members. Superusers see
everything. Every write goes through rooms.services — the same functions the API calls —
so the admin pushes the same live events (announcement, members, bans closing sockets).
"""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from huiliao_site.errors import DomainError
from rooms import qr, services
from rooms.models import (
    GEOFENCE_MAX_RADIUS_M,
    GEOFENCE_MIN_RADIUS_M,
    MUTE_MAX_MINUTES,
    ROOM_CURRENT_MEMBERS,
    Membership,
    Room,
)


def scoped_to_owner(request: HttpRequest, rooms: QuerySet, prefix: str = "") -> QuerySet:
    """Superusers see every row; everyone else only rows of rooms they own."""
    if request.user.is_superuser:
        return rooms
    return rooms.filter(**{f"{prefix}owner": request.user})


def can_manage(request: HttpRequest, room: Room | None) -> bool:
    return room is None or request.user.is_superuser or room.owner_id == request.user.pk


# --- Rooms ------------------------------------------------------------------------------


class RoomStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Room.Status.choices

    def queryset(self, request, queryset):
        if self.value() == Room.Status.OPEN:
            return queryset.open()
        if self.value() == Room.Status.EXPIRED:
            return queryset.expired_unclosed()
        if self.value() == Room.Status.CLOSED:
            return queryset.closed()
        return queryset


class RoomAdminForm(forms.ModelForm):
    """Checks what the services check, so that a mistake shows up on the form instead of
    as an error page."""

    class Meta:
        model = Room
        fields = [
            "name",
            "owner",
            "announcement",
            "expires_at",
            "latitude",
            "longitude",
            "radius_m",
            "slow_mode_seconds",
            "posting",
        ]
        help_texts = {
            "slow_mode_seconds": _(
                "0: off. Otherwise each member (not moderators) posts at most once per this "
                "many seconds."
            ),
            "expires_at": _("Leave empty for a room that never expires."),
            "radius_m": _("Geofence: only people within this distance of the point may enter."),
        }

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("The name must not be blank."))
        return name

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if "expires_at" in self.changed_data and expires_at is not None:
            try:
                services.validate_expiry(expires_at)
            except DomainError as exc:
                raise ValidationError(
                    _("The expiry must be in the future and at most %(days)s days away.")
                    % {"days": settings.HUILIAO_MAX_ROOM_DAYS}
                ) from exc
        return expires_at

    fence_invalid = False

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if self.fence_invalid:
            # clean() already said what is wrong; the model's all-or-nothing constraint
            # would only repeat it, less clearly.
            exclude |= {"latitude", "longitude", "radius_m"}
        return exclude

    def clean(self):
        data = super().clean()
        fence = [data.get("latitude"), data.get("longitude"), data.get("radius_m")]
        if any(value is not None for value in fence):
            if any(value is None for value in fence):
                self.fence_invalid = True
                raise ValidationError(
                    _(
                        "A geofence needs a latitude, a longitude and a radius; "
                        "leave all three empty for none."
                    )
                )
            try:
                services.validate_geofence(services.Geofence(*fence))
            except DomainError as exc:
                raise ValidationError(
                    _(
                        "Latitude must be between -90 and 90, longitude between -180 and 180, "
                        "and the radius between %(min)s and %(max)s m."
                    )
                    % {"min": GEOFENCE_MIN_RADIUS_M, "max": GEOFENCE_MAX_RADIUS_M}
                ) from exc
        return data

    def geofence(self) -> services.Geofence | None:
        data = self.cleaned_data
        if data.get("radius_m") is None:
            return None
        return services.Geofence(data["latitude"], data["longitude"], data["radius_m"])


class MembershipForm(forms.ModelForm):
    """Display name, role, mute and ban of one member; the owner's row cannot be demoted
    or banned."""

    mute_minutes = forms.IntegerField(
        label=_("mute for (minutes)"),
        required=False,
        min_value=0,
        max_value=MUTE_MAX_MINUTES,
        help_text=_("0 lifts the mute."),
        widget=forms.NumberInput(attrs={"style": "width: 6em"}),
    )

    class Meta:
        model = Membership
        fields = ["display_name", "role", "banned"]

    def clean_display_name(self):
        # The service's own rules (1-32 characters, no control characters, not another
        # current member's name), as a form error.
        try:
            name = services.clean_display_name(self.cleaned_data["display_name"], fallback="")
            if self.instance.pk and self.instance.is_current:
                services.display_name_check_free(
                    room=self.instance.room, name=name, membership=self.instance
                )
        except DomainError as exc:
            raise ValidationError(exc.detail) from exc
        return name

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.role == Membership.Role.OWNER:
            self.fields["role"].disabled = True
            self.fields["banned"].disabled = True
        else:
            self.fields["role"].choices = [
                (Membership.Role.MODERATOR, Membership.Role.MODERATOR.label),
                (Membership.Role.MEMBER, Membership.Role.MEMBER.label),
            ]


def membership_apply(form: MembershipForm, *, actor) -> Membership:
    """Apply a member form's changes through the services (fresh row: the form has
    already copied its values onto its own instance, which would hide the change)."""
    membership = Membership.objects.select_related("room").get(pk=form.instance.pk)
    data = form.cleaned_data
    if "display_name" in form.changed_data:
        membership = services.membership_rename(
            membership=membership, display_name=data["display_name"], actor=actor
        )
    if "role" in form.changed_data:
        membership = services.membership_set_role(
            membership=membership, role=data["role"], actor=actor
        )
    if data.get("mute_minutes") is not None:
        membership = services.membership_mute(
            membership=membership, minutes=data["mute_minutes"], actor=actor
        )
    if "banned" in form.changed_data:
        membership = services.membership_set_banned(
            membership=membership, banned=data["banned"], actor=actor
        )
    return membership


INLINE_MEMBERS = 50


class RecentMembersFormSet(forms.BaseInlineFormSet):
    """Only the most recent members: a conference room of thousands would make a page
    too big to use and a form with more fields than Django accepts in one request. The
    Members list has them all."""

    def get_queryset(self):
        if not hasattr(self, "_recent"):
            rows = super().get_queryset()
            recent = list(rows.values_list("pk", flat=True)[:INLINE_MEMBERS])
            self._recent = rows.filter(pk__in=recent)
        return self._recent


def with_account_for_superusers(names: list[str]):
    """A get_fields / get_readonly_fields that adds the member's account after their
    member_id for superusers: organisers see only the room identity (the privacy rule)."""

    def get(self, request, obj=None):
        if not request.user.is_superuser:
            return list(names)
        at = names.index("member_id") + 1
        return [*names[:at], "member_user", *names[at:]]

    return get


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = RecentMembersFormSet
    fields = [
        "display_name",
        "member_id",
        "role",
        "joined_at",
        "left_at",
        "muted_until",
        "mute_minutes",
        "banned",
    ]
    readonly_fields = ["member_id", "joined_at", "left_at", "muted_until"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("member")
    verbose_name_plural = _("members (the 50 who joined last; all of them under Members)")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").order_by("-joined_at", "-id")

    get_fields = with_account_for_superusers(fields)
    get_readonly_fields = with_account_for_superusers(readonly_fields)

    @admin.display(description=_("account"))
    def member_user(self, membership: Membership) -> str:
        return user_label(membership.user)


def user_label(user: User) -> str:
    # Nickname and kind only: never openid, never a login name that could be one.
    return f"{user.public_name} ({user.get_kind_display()})"


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    form = RoomAdminForm
    list_display = [
        "code",
        "name",
        "owner_name",
        "members",
        "messages",
        "expires_at",
        "status_label",
    ]
    list_display_links = ["code", "name"]
    list_filter = [RoomStatusFilter]
    search_fields = ["code", "name", "owner__nickname", "owner__username"]
    list_select_related = ["owner"]
    date_hierarchy = None
    ordering = ["-created_at"]
    inlines = [MembershipInline]
    # history.admin adds "export history as CSV" (rooms must not import history).
    actions = ["close_rooms", "reopen_rooms", "extend_rooms"]
    change_form_template = "admin/rooms/room/change_form.html"
    readonly_fields = [
        "code",
        "owner_name",
        "status_label",
        "created_at",
        "closed_at",
        "announcement_updated_at",
        "last_seq",
        "join_link",
        "qr_image",
        "related_links",
    ]

    # -- who sees what

    def get_queryset(self, request):
        rooms = (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships", filter=ROOM_CURRENT_MEMBERS))
        )
        return scoped_to_owner(request, rooms)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and can_manage(request, obj)

    def get_object(self, request, object_id, from_field=None):
        room = super().get_object(request, object_id, from_field)
        if room is not None:
            # The join link uses the request's host unless HUILIAO_PUBLIC_URL is set.
            room.admin_join_url = qr.join_url(room, request)
        return room

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Rooms are closed, not deleted: members keep their history until purge_rooms.
        return False

    # -- the form

    def get_fieldsets(self, request, obj=None):
        main = ["name", "owner"] if request.user.is_superuser else ["name"]
        if obj is None:
            return [
                (None, {"fields": [*main, "announcement"]}),
                (_("Expiry"), {"fields": ["expires_at"]}),
                (_("Geofence"), {"fields": ["latitude", "longitude", "radius_m"]}),
            ]
        return [
            (
                None,
                {
                    "fields": [
                        "code",
                        "name",
                        "owner_name",
                        "status_label",
                        "created_at",
                        "closed_at",
                    ]
                },
            ),
            (_("Announcement"), {"fields": ["announcement", "announcement_updated_at"]}),
            (_("Expiry"), {"fields": ["expires_at"]}),
            (_("Moderation"), {"fields": ["slow_mode_seconds", "posting"]}),
            (_("Geofence"), {"fields": ["latitude", "longitude", "radius_m"]}),
            (_("Share"), {"fields": ["join_link", "qr_image", "related_links", "last_seq"]}),
        ]

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return [RoomStatusFilter, ("owner", admin.RelatedOnlyFieldListFilter)]
        return self.list_filter

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.closed_at is not None:
            # A closed room is a record: nothing about it changes any more.
            fields += [
                "name",
                "announcement",
                "expires_at",
                "latitude",
                "longitude",
                "radius_m",
                "slow_mode_seconds",
                "posting",
            ]
        return fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_changeform_initial_data(self, request):
        # The same default as /new/ and the API: a room lasts a day unless told otherwise.
        initial = super().get_changeform_initial_data(request)
        initial.setdefault(
            "expires_at",
            (timezone.now() + dt.timedelta(hours=settings.HUILIAO_DEFAULT_ROOM_HOURS)).replace(
                second=0, microsecond=0
            ),
        )
        return initial

    def response_add(self, request, obj, post_url_continue=None):
        # A new room's next step is its QR code: land on it.
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        super().response_add(request, obj, post_url_continue)  # its success message
        return HttpResponseRedirect(reverse("admin:rooms_room_change", args=[obj.pk]) + "#qr")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = User.objects.filter(is_staff=True).order_by("username")
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            owner = form.cleaned_data.get("owner") if request.user.is_superuser else None
            created = services.room_create(
                owner=owner or request.user,
                name=form.cleaned_data["name"],
                expires_at=form.cleaned_data.get("expires_at"),
                geofence=form.geofence(),
                announcement=form.cleaned_data.get("announcement") or "",
            )
            # The admin goes on with `obj` (log entry, redirect): make it the created row.
            for field in Room._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
            obj._state.adding = False
            obj._state.db = created._state.db
            return
        changed = set(form.changed_data)
        settings_changed = changed & {"name", "expires_at", "slow_mode_seconds", "posting"}
        fence_changed = bool(changed & {"latitude", "longitude", "radius_m"})
        if settings_changed or fence_changed:
            data = form.cleaned_data
            # The form has copied its values onto `obj` already: the service compares
            # with the stored row, to see (and log, and push) what really changed.
            stored = Room.objects.get(pk=obj.pk)
            services.room_update(
                room=stored,
                actor=request.user,
                name=data["name"] if "name" in changed else None,
                expires_at=data.get("expires_at")
                if "expires_at" in changed
                else services.NOT_GIVEN,
                geofence=form.geofence() if fence_changed else services.NOT_GIVEN,
                slow_mode_seconds=data.get("slow_mode_seconds")
                if "slow_mode_seconds" in changed
                else None,
                posting=data.get("posting") if "posting" in changed else None,
            )
        if "announcement" in changed:
            services.announcement_set(
                room=obj, text=form.cleaned_data.get("announcement") or "", actor=request.user
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        changed = []
        for member_form in formset.forms:
            if member_form.instance.pk and member_form.has_changed():
                membership_apply(member_form, actor=request.user)
                changed.append((member_form.instance, member_form.changed_data))
        # What the admin's change message reads.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], changed, []

    # -- list columns and read-only fields

    @admin.display(description=_("owner"), ordering="owner__nickname")
    def owner_name(self, room: Room) -> str:
        return room.owner.public_name

    @admin.display(description=_("member count"), ordering="member_count")
    def members(self, room: Room) -> int:
        return room.member_count

    @admin.display(description=_("message count"), ordering="last_seq")
    def messages(self, room: Room) -> int:
        return room.last_seq

    @admin.display(description=_("status"))
    def status_label(self, room: Room) -> str:
        return Room.Status(room.status).label

    @admin.display(description=_("join link"))
    def join_link(self, room: Room) -> str:
        url = getattr(room, "admin_join_url", None) or qr.join_url(room)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.display(description=_("QR code"))
    def qr_image(self, room: Room) -> str:
        src = reverse("room-qrcode-png", kwargs={"code": room.code})
        return format_html(
            '<a id="qr" href="{}?size=1200" download="{}.png">'
            '<img src="{}?size=240" width="240" alt="{}"></a>',
            src,
            room.code,
            src,
            gettext("QR code"),
        )

    @admin.display(description=_("more"))
    def related_links(self, room: Room) -> str:
        return format_html(
            '<a href="{}?room__id__exact={}">{}</a> · <a href="{}?room__id__exact={}">{}</a> · '
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("admin:history_message_changelist"),
            room.pk,
            gettext("Messages"),
            reverse("admin:rooms_membership_changelist"),
            room.pk,
            gettext("Members"),
            reverse("room-poster", kwargs={"code": room.code}),
            gettext("Print the poster"),
        )

    # -- actions

    @admin.action(description=_("Close…"), permissions=["change"])
    def close_rooms(self, request, queryset):
        """Closing ends the chat for everyone at once: ask on a page that names each room,
        as Django's own delete does, and say how to undo it."""
        if request.POST.get("confirmed") == "yes":
            closed = sum(services.room_close(room=room, actor=request.user) for room in queryset)
            self.message_user(
                request,
                ngettext("Closed %(count)d room.", "Closed %(count)d rooms.", closed)
                % {"count": closed}
                + " "
                + gettext("“Reopen” undoes it until a room's expiry."),
                messages.SUCCESS,
            )
            return None
        still_open = queryset.filter(closed_at__isnull=True)
        if not still_open.exists():
            self.message_user(request, gettext("These rooms are already closed."), messages.INFO)
            return None
        return self.close_confirmation(request, still_open)

    def close_confirmation(self, request, rooms):
        return TemplateResponse(
            request,
            "admin/rooms/room/close_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Close these rooms?"),
                "opts": self.model._meta,
                "rooms": rooms,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "action": "close_rooms",
            },
        )

    @admin.action(description=_("Reopen (before expiry)"), permissions=["change"])
    def reopen_rooms(self, request, queryset):
        reopened, expired = 0, 0
        for room in queryset.filter(closed_at__isnull=False):
            try:
                reopened += services.room_reopen(room=room, actor=request.user)
            except DomainError:
                expired += 1
        self.message_user(
            request,
            ngettext("Reopened %(count)d room.", "Reopened %(count)d rooms.", reopened)
            % {"count": reopened},
            messages.SUCCESS,
        )
        if expired:
            self.message_user(
                request,
                gettext("Rooms past their expiry stay closed: extend them first."),
                messages.WARNING,
            )

    # -- the change page's buttons (each a POST to its own URL, then back to the page)

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/close/",
                self.admin_site.admin_view(self.close_view),
                name="rooms_room_close",
            ),
            path(
                "<path:object_id>/reopen/",
                self.admin_site.admin_view(self.reopen_view),
                name="rooms_room_reopen",
            ),
            path(
                "<path:object_id>/extend/",
                self.admin_site.admin_view(self.extend_view),
                name="rooms_room_extend",
            ),
        ]
        return own + super().get_urls()

    def _room_for_button(self, request, object_id) -> Room:
        room = self.get_object(request, object_id)
        if room is None or not self.has_change_permission(request, room):
            raise PermissionDenied
        return room

    def _back_to(self, room: Room):
        return HttpResponseRedirect(reverse("admin:rooms_room_change", args=[room.pk]))

    def close_view(self, request, object_id):
        room = self._room_for_button(request, object_id)
        if request.method == "POST" and request.POST.get("confirmed") == "yes":
            self.close_rooms(request, Room.objects.filter(pk=room.pk))
            return self._back_to(room)
        return self.close_confirmation(request, Room.objects.filter(pk=room.pk, closed_at=None))

    def reopen_view(self, request, object_id):
        room = self._room_for_button(request, object_id)
        if request.method == "POST":
            self.reopen_rooms(request, Room.objects.filter(pk=room.pk))
        return self._back_to(room)

    def extend_view(self, request, object_id):
        room = self._room_for_button(request, object_id)
        if request.method == "POST":
            self.extend_rooms(request, Room.objects.filter(pk=room.pk))
        return self._back_to(room)

    @admin.action(description=_("Extend by a day"), permissions=["change"])
    def extend_rooms(self, request, queryset):
        extended = 0
        for room in queryset:
            if room.closed_at is None:
                services.room_extend(room=room, by=dt.timedelta(days=1), actor=request.user)
                extended += 1
        self.message_user(
            request,
            ngettext(
                "Extended %(count)d room by a day.", "Extended %(count)d rooms by a day.", extended
            )
            % {"count": extended},
            messages.SUCCESS,
        )
        if extended < len(queryset):
            self.message_user(request, gettext("Closed rooms stay closed."), messages.WARNING)


# --- Members ----------------------------------------------------------------------------


class OwnRoomsFilter(admin.RelatedOnlyFieldListFilter):
    """The room filter lists only rooms whose rows the caller can see."""


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ["display_name", "room", "role", "joined_at", "left_at", "muted_until", "banned"]
    list_filter = [("room", OwnRoomsFilter), "role", "banned"]
    search_fields = ["display_name", "room__code", "room__name"]
    list_select_related = ["room"]
    fields = [
        "room",
        "member_id",
        "display_name",
        "joined_at",
        "left_at",
        "muted_until",
        "role",
        "mute_minutes",
        "banned",
    ]
    readonly_fields = ["room", "member_id", "display_name", "joined_at", "left_at", "muted_until"]
    show_full_result_count = False

    def get_queryset(self, request):
        return scoped_to_owner(
            request, super().get_queryset(request).select_related("room", "user"), "room__"
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and can_manage(request, obj and obj.room)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_manage(request, obj and obj.room)

    def has_add_permission(self, request):
        return False  # people join rooms themselves

    def has_delete_permission(self, request, obj=None):
        return False  # ban instead: a deleted member could simply join again

    get_fields = with_account_for_superusers(fields)
    get_readonly_fields = with_account_for_superusers(readonly_fields)

    @admin.display(description=_("account"))
    def member_user(self, membership: Membership) -> str:
        return user_label(membership.user)

    def save_model(self, request, obj, form, change):
        membership_apply(form, actor=request.user)


from rooms import admin_moderation  # noqa: E402, F401 (registers the moderation screens)
