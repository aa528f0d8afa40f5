from django.contrib import admin
from django.urls import include, path

from incidents.views import slack, status_page
from oncall.views import phone, sso

from . import views
from .api import urls as api_urls

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    # Signing in and out; single sign-on under /oidc/ (README "Single sign-on").
    path("accounts/login/", sso.LoginView.as_view(), name="login"),
    path("accounts/logout/", sso.LogoutView.as_view(), name="logout"),
    path("oidc/authenticate/", sso.SignOnStart.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", sso.SignOnCallback.as_view(), name="oidc_authentication_callback"),
    path("oidc/refused/", sso.refused, name="oidc_refused"),
    path("admin/login/", sso.admin_login),
    path("admin/", admin.site.urls),
    path("oncall/", include("oncall.urls")),
    path("reports/", include("reports.urls")),
    path("", include("mindweave_ir.inbound_urls")),
    path("api/v1/", api_urls()),
    path("twilio/sms", phone.sms, name="twilio-sms"),
    path("twilio/voice", phone.voice, name="twilio-voice"),
    path("twilio/status", phone.status, name="twilio-status"),
    path("slack/events", slack.events, name="slack-events"),
    path("status/", status_page.status_page, name="status"),
    path("status/index.json", status_page.status_json, name="status-json"),
    path("", include("incidents.urls")),
]

handler403 = views.permission_denied
handler404 = views.page_not_found
