"""Routes of the communities API; chengguan.api_urls gathers every app's router."""

from rest_framework.routers import SimpleRouter

from communities.api import views

router = SimpleRouter()
router.register("districts", views.DistrictViewSet, basename="district")
router.register("streets", views.StreetViewSet, basename="street")
router.register("communities", views.CommunityViewSet, basename="community")
router.register("grid-cells", views.GridCellViewSet, basename="gridcell")
router.register("handling-units", views.HandlingUnitViewSet, basename="handlingunit")
router.register("facilities", views.FacilityViewSet, basename="facility")

urlpatterns = router.urls
