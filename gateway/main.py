"""Process entry point for uvicorn: `uvicorn --factory gateway.main:app_factory`."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.app import create_app
from gateway.logs import configure_logging
from gateway.settings import Settings

__all__ = ["app_factory"]


def app_factory() -> FastAPI:
    """Read the settings from the environment, configure logging, build the app."""
    settings = Settings()
    configure_logging(
        level=settings.log_level, json=settings.log_json, environment=settings.environment
    )
    return create_app(settings)
