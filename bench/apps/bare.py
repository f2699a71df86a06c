"""A bare FastAPI app with one `/healthz` route: the floor the gateway is compared to."""

from fastapi import FastAPI


def create_app() -> FastAPI:
    """Build the bare app: no middleware, no exception handlers, one route."""
    bare = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @bare.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Answer like the gateway's liveness probe does."""
        return {"status": "ok"}

    return bare


app = create_app()
