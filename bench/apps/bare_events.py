"""A bare FastAPI app with the webhook intake's route: reads the body, answers 200."""

from fastapi import FastAPI, Request


def create_app() -> FastAPI:
    """Build the bare app: no middleware, no checks, no storage."""
    bare = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @bare.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Readiness probe for the harness."""
        return {"status": "ok"}

    @bare.post("/v1/partners/{partner_id}/events")
    async def receive_event(partner_id: str, request: Request) -> dict[str, object]:
        """Read the delivery and acknowledge it."""
        body = await request.body()
        return {"status": "received", "partner_id": partner_id, "bytes": len(body)}

    return bare


app = create_app()
