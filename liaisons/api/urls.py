"""Routes of the liaisons API; chengguan.api_urls gathers every app's router."""

from rest_framework.routers import SimpleRouter

from liaisons.api import views

router = SimpleRouter()
router.register("liaisons", views.LiaisonViewSet, basename="liaison")
router.register("patrols", views.PatrolViewSet, basename="patrol")
router.register("meetings", views.MeetingViewSet, basename="meeting")
router.register("cover-periods", views.CoverPeriodViewSet, basename="coverperiod")

urlpatterns = router.urls
