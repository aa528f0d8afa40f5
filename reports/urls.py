from django.urls import path

from .views import exports, pir

app_name = "reports"
urlpatterns = [
    path("pir/<str:ref>.pdf", exports.pir_pdf, name="pir-pdf"),
    path("pir/<str:ref>/", pir.pir_detail, name="pir"),
    path("pir/<str:ref>/sections/<str:section>/", pir.pir_section, name="pir-section"),
    path("pir/<str:ref>/action-items/", pir.action_item_add, name="action-item-add"),
    path("pir/<str:ref>/action-items/<int:pk>/", pir.action_item_edit, name="action-item-edit"),
    path("pir/<str:ref>/action-items/<int:pk>/delete/", pir.action_item_delete,
         name="action-item-delete"),
    path("pir/<str:ref>/workflow/", pir.pir_workflow, name="pir-workflow"),
    path("incidents/<str:ref>/report.md", exports.incident_report, name="incident-report"),
]
