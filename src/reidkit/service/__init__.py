"""REST service and web page over the gallery (FastAPI)."""
