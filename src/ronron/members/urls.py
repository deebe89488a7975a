from django.urls import path

from ronron.members import views

app_name = "members"
urlpatterns = [
    path("", views.member_list, name="list"),
    path("new/", views.member_create, name="create"),
    path("dues/", views.dues, name="dues"),
    path("themes/", views.themes, name="themes"),
    path("themes/<int:pk>/rename/", views.theme_rename, name="theme_rename"),
    path("themes/<int:pk>/delete/", views.theme_delete, name="theme_delete"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/approve/", views.member_approve, name="approve"),
    path("<int:pk>/admit/", views.member_admit, name="admit"),
    path("<int:pk>/departure-notice/", views.member_departure_notice, name="departure_notice"),
    path("<int:pk>/departure/", views.member_departure, name="departure"),
    path("<int:pk>/contacts/add/", views.contact_add, name="contact_add"),
    path("<int:pk>/contacts/<int:contact_pk>/edit/", views.contact_edit, name="contact_edit"),
    path("<int:pk>/contacts/<int:contact_pk>/remove/", views.contact_remove, name="contact_remove"),
    path("<int:pk>/memberships/add/", views.membership_add, name="membership_add"),
    path(
        "<int:pk>/memberships/<int:membership_pk>/edit/",
        views.membership_edit,
        name="membership_edit",
    ),
    path("<int:pk>/memberships/<int:membership_pk>/payment/", views.payment, name="payment"),
    path("<int:pk>/call-dues/", views.call_dues, name="call_dues"),
]
