"""The HTTP layer: FastAPI routers in OpenAI's shapes."""
