from django.urls import path

from ronron.services import views_rosters as views

app_name = "lists"
urlpatterns = [
    path("", views.list_index, name="index"),
]
