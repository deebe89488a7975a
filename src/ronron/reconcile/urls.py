from django.urls import path

from ronron.reconcile import views

app_name = "reconcile"
urlpatterns = [
    path("", views.pending, name="pending"),
    path("apply/", views.apply, name="apply"),
    path("adopt/", views.adopt, name="adopt"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
]
