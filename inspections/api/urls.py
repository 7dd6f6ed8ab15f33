"""Routes of the inspections API; chengguan.api_urls gathers every app's router."""

from rest_framework.routers import SimpleRouter

from inspections.api import views

router = SimpleRouter()
router.register("shops", views.ShopViewSet, basename="shop")
router.register("inspections", views.InspectionViewSet, basename="inspection")
router.register("rectification-notices", views.RectificationNoticeViewSet, basename="rectificationnotice")

urlpatterns = router.urls
