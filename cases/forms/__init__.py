"""Forms for case pages, one module per audience (public, intake, desk)."""
