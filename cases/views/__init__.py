"""Case pages, one module per audience.

staff:  the gate-scoped case list and detail
public: the resident complaint form and tracking page (no login)
intake: the operator's 受理 desk
desk:   the casework worklists and actions
"""
