"""The organiser console's moderation screens: the log (read-only) and content rules.
Reports are in history.admin (settling one hides or keeps a message). Organisers see
their own rooms' rows; global rules and every room's rows are for superusers."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from huiliao_site.errors import DomainError
from rooms import services
from rooms.admin import OwnRoomsFilter, can_manage, scoped_to_owner
from rooms.models import ContentRule, Membership, ModerationAction, Room


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "room",
        "action",
        "actor_name",
        "target_member_id",
        "target_seq",
        "detail",
    ]
    list_filter = [("room", OwnRoomsFilter), "action"]
    search_fields = ["room__code", "room__name", "target_member_id"]
    list_select_related = ["room"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_queryset(self, request):
        actor = Membership.objects.filter(room=OuterRef("room_id"), user=OuterRef("actor_id"))
        rows = (
            super()
            .get_queryset(request)
            .annotate(actor_display_name=Subquery(actor.values("display_name")[:1]))
        )
        return scoped_to_owner(request, rows, "room__")

    @admin.display(description=_("by"))
    def actor_name(self, entry: ModerationAction) -> str:
        # The actor as the room knows them: the log is the room's, not the site's.
        if entry.actor_id is None:
            return gettext("(the room: its members' reports)")
        return entry.actor_display_name or gettext("(site staff)")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # an audit log is never edited

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and can_manage(request, obj and obj.room)


class ContentRuleForm(forms.ModelForm):
    class Meta:
        model = ContentRule
        fields = ["term", "action", "room"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if request is not None and not request.user.is_superuser:
            # An organiser's rules are their own rooms'; rules for every room are staff's.
            self.fields["room"].queryset = Room.objects.filter(owner=request.user)
            self.fields["room"].required = True
            self.fields["room"].help_text = _("One of your rooms.")

    def clean_term(self):
        try:
            return services.clean_content_term(self.cleaned_data["term"])
        except DomainError as exc:
            raise ValidationError(exc.detail) from exc


@admin.register(ContentRule)
class ContentRuleAdmin(admin.ModelAdmin):
    form = ContentRuleForm
    list_display = ["term", "action", "room_label", "created_at"]
    list_filter = ["action", ("room", OwnRoomsFilter)]
    search_fields = ["term"]
    list_select_related = ["room"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class WithRequest(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, request=request, **inner)

        return WithRequest

    def get_queryset(self, request):
        return scoped_to_owner(request, super().get_queryset(request), "room__")

    @admin.display(description=_("room"), ordering="room__name")
    def room_label(self, rule: ContentRule) -> str:
        return str(rule.room) if rule.room_id else gettext("every room")

    def _may(self, request, obj) -> bool:
        return (
            obj is None
            or request.user.is_superuser
            or (obj.room_id is not None and obj.room.owner_id == request.user.pk)
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._may(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may(request, obj)

    def save_model(self, request, obj, form, change):
        services.content_rule_save(rule=obj)

    def delete_model(self, request, obj):
        services.content_rules_delete(rules=[obj])

    def delete_queryset(self, request, queryset):
        services.content_rules_delete(rules=list(queryset))
