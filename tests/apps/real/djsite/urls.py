from django.conf import settings
from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    # Served by Django itself (DEBUG is off, so not by staticfiles).
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.ADMIN_STATIC}),
    path("api/info", views.info),
    path("api/echo", views.echo),
    path("stream", views.stream),
    path("file", views.file),
    path("attachment", views.attachment),
    path("form", views.form),
    path("redirect", views.go),
    path("boom", views.boom),
    path("cookies", views.cookies),
]
