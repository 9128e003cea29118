"""The public web app: subscribe, confirm, unsubscribe, health check."""

from digest.web.app import create_app

__all__ = ["create_app"]
