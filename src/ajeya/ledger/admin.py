from django.contrib import admin

from ajeya.ledger.models import AccessEntry, LedgerEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is append-only and written by services alone."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "recorded_at", "actor_username", "action", "subject_type", "subject_id"]
    list_filter = ["action", "subject_type"]
    search_fields = ["subject_id", "actor_username", "request_id", "ip"]


@admin.register(AccessEntry)
class AccessEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "recorded_at", "actor_username", "what", "patient_uhid", "ip"]
    list_filter = ["what"]
    search_fields = ["patient_uhid", "actor_username", "ip"]
