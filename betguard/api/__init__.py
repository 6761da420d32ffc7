"""betguard's HTTP API (FastAPI).

``betguard.api.app.create_app(ctx, settings)`` builds the application over a context;
``betguard.api.server.build_app`` is uvicorn's per-process factory; ``betguard api``
(``betguard.api.cli``) serves it. Nothing here is imported eagerly, so the CLI's
other commands do not pay for FastAPI.
"""
