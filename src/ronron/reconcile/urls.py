from django.urls import path

app_name = "reconcile"
urlpatterns: list = []
