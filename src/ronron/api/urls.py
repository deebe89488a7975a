from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from ronron.api import views

app_name = "api"

router = SimpleRouter()
router.register("members", views.MemberViewSet, basename="member")
router.register(
    r"members/(?P<number>[^/]+)/contacts", views.MemberContactViewSet, basename="member-contact"
)
router.register(
    r"members/(?P<number>[^/]+)/memberships",
    views.MemberMembershipViewSet,
    basename="member-membership",
)
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("themes", views.ThemeViewSet, basename="theme")

urlpatterns = [
    path("v1/", include(router.urls)),
    # OpenAPI 3; JSON with ?format=json, YAML otherwise.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^", views.not_found),
]
