"""The root URLs: health, metrics, admin, login, the API and the pages."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.reports import outcome_report
from config import health, metrics

urlpatterns = [
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reports/<str:token>/", outcome_report, name="outcome_report"),
    path("", include("api.urls")),
    path("", include("pages.urls")),
]
