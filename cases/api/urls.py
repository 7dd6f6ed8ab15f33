"""Routes of the cases API; chengguan.api_urls gathers every app's router."""

from rest_framework.routers import SimpleRouter

from cases.api import views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("cases", views.CaseViewSet, basename="case")
router.register("case-events", views.CaseEventViewSet, basename="caseevent")
router.register("case-attachments", views.CaseAttachmentViewSet, basename="caseattachment")
router.register("parking-requests", views.ParkingRequestViewSet, basename="parkingrequest")
router.register("return-visits", views.ReturnVisitViewSet, basename="returnvisit")
router.register("indicators", views.IndicatorViewSet, basename="indicators")
router.register("ratings", views.ResidentRatingViewSet, basename="rating")
router.register("two-way-ratings", views.TwoWayRatingViewSet, basename="twowayrating")

urlpatterns = router.urls
