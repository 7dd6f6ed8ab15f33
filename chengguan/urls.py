"""Project URLs. App URLs live in each app's urls.py under its own namespace."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from chengguan import account_views, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/2fa/", account_views.otp_manage, name="otp_manage"),
    path("accounts/2fa/setup/", account_views.otp_setup, name="otp_setup"),
    path("accounts/2fa/verify/", account_views.otp_verify, name="otp_verify"),
    path("accounts/2fa/recovery-codes/", account_views.otp_recovery_renew, name="otp_recovery_renew"),
    path("accounts/2fa/turn-off/", account_views.otp_turn_off, name="otp_turn_off"),
    # Answered by chengguan.middleware.HealthCheckMiddleware first; named here for reverse().
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("cases/", include("cases.urls")),
    path("", include("cases.urls_public")),
    path("desk/intake/", include("cases.urls_intake")),
    path("desk/", include("cases.urls_desk")),
    path("communities/", include("communities.urls")),
    path("field/", include("liaisons.urls")),
    path("shops/", include("inspections.urls")),
    path("dashboard/", include("cases.urls_dashboard")),
    path("api/", include("chengguan.api_urls")),
    path("open311/v2/", include("cases.open311.urls")),
    path("captcha/", include("captcha.urls")),
    path("admin/", admin.site.urls),
]

# API clients get a JSON 500 (chengguan.api_errors), everyone else the HTML page.
handler500 = "chengguan.api_errors.server_error"

if settings.BENCH_CEILING_ENABLED:
    # The load benchmark's reference points (bench/load.py); never mounted otherwise.
    from chengguan import bench_views

    urlpatterns += [
        path("bench/ceiling/", bench_views.ceiling, name="bench_ceiling"),
        path("bench/complaint-floor/", bench_views.complaint_floor, name="bench_complaint_floor"),
    ]

if settings.DEBUG:
    # In production the web server (or object storage) serves uploaded files.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
