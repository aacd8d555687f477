"""The handlers the server binary carries: one line per handler. See docs/writing-a-handler.md."""

SERVER_HANDLERS = [
    "//handlers/echo",
    "//handlers/uppercase",
    "//handlers/stats",
    "//handlers/reverse",
    "//handlers/sleep",
    "//handlers/kv",
    "//handlers/proxy",
]
