"""Field-work fixtures (tests.fieldwork) for this package's tests."""

from tests.fieldwork import cells, liaison, operator, outsider, superuser, supervisor

__all__ = ["cells", "liaison", "operator", "outsider", "superuser", "supervisor"]
