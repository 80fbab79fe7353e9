"""HTTP API (FastAPI, versioned under /api/v1) and the dashboard's static files."""
