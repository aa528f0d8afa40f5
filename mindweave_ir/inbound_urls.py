"""The token-authenticated inbound endpoints (DESIGN.md contracts): part of the site's
URLconf, and resolved on their own by the inbound handler (wsgi.py), which would
otherwise walk the whole site's patterns for every alert."""

from django.urls import path

from incidents.views import inbound

urlpatterns = [
    path("api/v1/integrations/<str:token>/alertmanager", inbound.alertmanager_webhook,
         name="alertmanager-webhook"),
    path("api/v1/integrations/<str:token>/cloudwatch", inbound.cloudwatch_sns,
         name="cloudwatch-sns"),
    path("api/v1/events/v2/enqueue", inbound.events_enqueue, name="events-enqueue"),
    path("api/v1/heartbeats/<str:token>/ping", inbound.heartbeat_ping, name="heartbeat-ping"),
]
