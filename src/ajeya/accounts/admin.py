from django.contrib import admin

from ajeya.accounts.models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Read-only: accounts change through the staff pages, which record the ledger."""

    list_display = ["username", "full_name", "role", "department", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "full_name", "employee_id"]
    exclude = ["password"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
