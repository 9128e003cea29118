"""The store: typed SQLAlchemy models and the functions that read and write them."""
