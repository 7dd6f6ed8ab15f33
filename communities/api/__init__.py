"""REST API of the app (/api/v1/): serializers, viewsets, routes."""
