"""The Celery shell around the core: the app, its tasks and the beat schedule."""
