"""The HTTP edge: FastAPI app (api.py), routes and schemas, limits (guard.py), re-index jobs, metrics, web page."""
