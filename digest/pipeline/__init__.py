"""Walking the stages: fetch a day, build its pool, send editions and subscriber emails."""
