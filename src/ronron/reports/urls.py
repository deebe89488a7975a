from django.urls import path

from ronron.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_page, name="page"),
    path("download/<str:fmt>/", views.report_download, name="download"),
    path("pdf/", views.report_pdf_start, name="pdf_start"),
    path("pdf/<int:job_id>/", views.report_pdf, name="pdf"),
]
