from django.urls import path

from .views import pages, people, schedules

app_name = "oncall"
urlpatterns = [
    # people
    path("me/", people.profile, name="profile"),
    path("me/contact-methods/add/", people.contact_method_add, name="contact-add"),
    path("me/contact-methods/<int:pk>/edit/", people.contact_method_edit, name="contact-edit"),
    path("me/contact-methods/<int:pk>/delete/", people.contact_method_delete,
         name="contact-delete"),
    path("me/contact-methods/<int:pk>/test/", people.contact_method_test, name="contact-test"),
    path("me/calendar-token/", people.regenerate_calendar_token, name="calendar-token"),
    path("me/api-tokens/", people.api_token_add, name="api-token-add"),
    path("me/api-tokens/<int:pk>/revoke/", people.api_token_revoke, name="api-token-revoke"),
    path("me/slack/", people.slack_link, name="slack-link"),
    # schedules
    path("me/shifts/", schedules.my_shifts, name="my-shifts"),
    path("me/calendar.ics", schedules.my_calendar_feed, name="my-calendar-feed"),
    path("schedules/", schedules.schedule_list, name="schedules"),
    path("schedules/new/", schedules.schedule_create, name="schedule-create"),
    path("schedules/preview/", schedules.handoff_preview, name="handoff-preview"),
    path("schedules/<int:pk>/", schedules.schedule_detail, name="schedule"),
    path("schedules/<int:pk>/edit/", schedules.schedule_edit, name="schedule-edit"),
    path("schedules/<int:pk>/calendar/", schedules.schedule_calendar, name="schedule-calendar"),
    path("schedules/<int:pk>/overrides/", schedules.override_create, name="override-create"),
    path("schedules/<int:pk>/overrides/<int:override_pk>/delete/", schedules.override_delete,
         name="override-delete"),
    path("schedules/<int:pk>/calendar.ics", schedules.schedule_calendar_feed,
         name="schedule-calendar-feed"),
    # escalation policies and pages
    path("policies/", pages.policy_list, name="policies"),
    path("policies/<int:pk>/", pages.policy_detail, name="policy"),
    path("pages/", pages.page_list, name="pages"),
    path("pages/<int:pk>/", pages.page_detail, name="page"),
    path("pages/<int:pk>/acknowledge/", pages.page_acknowledge, name="page-ack"),
    path("ack/<str:token>/", pages.one_click_ack, name="one-click-ack"),
]
