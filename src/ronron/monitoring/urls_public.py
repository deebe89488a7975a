from django.urls import path, re_path

from ronron.monitoring import feeds, views_public

app_name = "status"
urlpatterns = [
    path("", views_public.hoster, name="hoster"),
    path("feed.atom", feeds.atom_feed, name="feed_atom"),
    path("feed.json", feeds.json_feed, name="feed_json"),
    path("badge/<int:pk>.svg", views_public.badge, name="badge"),
    path("incidents/<int:pk>/", views_public.incident, name="incident"),
    re_path(
        rf"^m/(?P<token>{views_public.TOKEN_PATTERN})/$",
        views_public.member_by_token,
        name="member_private",
    ),
    re_path(
        rf"^(?P<number>{views_public.NUMBER_PATTERN})/$",
        views_public.member_by_number,
        name="member",
    ),
]
