from django.contrib import admin

from ajeya.patients.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    """Read-only: registration and corrections go through the services and the ledger."""

    list_display = ["uhid", "name", "sex", "date_of_birth", "phone", "category", "registered_at"]
    list_filter = ["category", "sex", "state"]
    search_fields = ["uhid", "phone", "name_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
