"""Contract testing: each API's contract (read from its provider's wire models and routes) as an
OpenAPI document (``openapi``), and checked against any server, the fake or the real service
(``verify``)."""
