from django.urls import path

from . import alert_views, views

app_name = "incidents"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.incident_list, name="list"),
    path("incidents/declare/", views.declare, name="declare"),
    path("incidents/alerts/", alert_views.alert_list, name="alerts"),
    path("incidents/<str:ref>/", views.incident_detail, name="detail"),
    path("incidents/<str:ref>/status/", views.incident_transition, name="transition"),
    path("incidents/<str:ref>/resolve/", views.incident_resolve, name="resolve"),
    path("incidents/<str:ref>/severity/", views.incident_severity, name="severity"),
    path("incidents/<str:ref>/roles/", views.incident_role, name="role"),
    path("incidents/<str:ref>/join/", views.incident_join, name="join"),
    path("incidents/<str:ref>/timeline/", views.timeline, name="timeline"),
    path("incidents/<str:ref>/timeline/<int:pk>/", views.timeline_entry, name="entry"),
    path("incidents/<str:ref>/timeline/<int:pk>/edit/", views.timeline_entry_edit,
         name="entry-edit"),
    path("incidents/<str:ref>/timeline/<int:pk>/delete/", views.timeline_entry_delete,
         name="entry-delete"),
    path("incidents/<str:ref>/timeline/<int:pk>/history/", views.timeline_entry_history,
         name="entry-history"),
    path("incidents/<str:ref>/checklist/<int:pk>/", views.checklist_toggle,
         name="checklist-toggle"),
    path("incidents/<str:ref>/checklist/<int:pk>/waive/", views.checklist_waive,
         name="checklist-waive"),
]
