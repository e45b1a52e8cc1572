"""The HTTP front door: the ASGI application, its middleware and error translation."""
