from django.urls import path

from . import views

app_name = "oncall"
urlpatterns = [
    path("me/", views.profile, name="profile"),
]
