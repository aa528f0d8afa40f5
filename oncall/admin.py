from django.contrib import admin

from .models import Profile
from .roles import ManagerAdminMixin


@admin.register(Profile)
class ProfileAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["user", "timezone"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "timezone"]
    list_select_related = ["user"]
