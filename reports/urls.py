from django.urls import path

from .views import exports, handoffs, pir
from .views.metrics import metrics_page

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
    path("handoffs/", handoffs.handoff_index, name="handoffs"),
    path("handoffs/current/<int:schedule_pk>/", handoffs.handoff_current,
         name="handoff-current"),
    path("handoffs/<int:pk>/", handoffs.handoff_detail, name="handoff"),
    path("handoffs/<int:pk>.pdf", handoffs.handoff_pdf, name="handoff-pdf"),
    path("handoffs/<int:pk>/checks/<int:check_pk>/", handoffs.handoff_check,
         name="handoff-check"),
    path("handoffs/<int:pk>/save/", handoffs.handoff_save, name="handoff-save"),
    path("handoffs/<int:pk>/acknowledge/", handoffs.handoff_acknowledge,
         name="handoff-ack"),
    path("incidents/<str:ref>/report.md", exports.incident_report, name="incident-report"),
    path("metrics/", metrics_page, name="metrics"),
]
