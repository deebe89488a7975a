from django.urls import include, path

from ronron.services import views_feed as services_feed

urlpatterns = [
    path("", include("ronron.core.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("members/import/", include("ronron.members.urls_import")),
    path("members/", include("ronron.members.urls")),
    path("jobs/", include("ronron.jobs.urls")),
    path("servers/", include("ronron.fleet.urls")),
    path("services/", include("ronron.services.urls")),
    path("plan/", include("ronron.reconcile.urls")),
    path("rosters/feed/<int:pk>/", services_feed.roster_feed, name="roster_feed"),
    path("rosters/", include("ronron.services.urls_rosters")),
    path("cloud/", include("ronron.services.urls_cloud")),
    path("lists/", include("ronron.services.urls_lists")),
    path("reports/", include("ronron.reports.urls")),
    path("status/", include("ronron.monitoring.urls_public")),
    path("secret/", include("ronron.secrets.urls")),
    path("join/", include("ronron.members.urls_join")),
    path("portal/", include("ronron.portal.urls")),
    path("applications/", include("ronron.members.urls_applications")),
    path("access/", include("ronron.portal.urls_access")),
    path("mail/", include("ronron.core.urls_mail")),
    path("", include("ronron.portal.urls_console")),
    path("monitoring/", include("ronron.monitoring.urls_console")),
    path(".well-known/chatonsinfos/", include("ronron.reports.urls_chatonsinfos")),
    path("api/", include("ronron.api.urls")),
]
