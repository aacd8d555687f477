"""server_binary: a server executable carrying a chosen set of handlers.

    load("//server:server.bzl", "server_binary")
    server_binary(name = "my_server", handlers = ["//handlers/echo", "//my/handler"])

Each handler label is a `cc_library` with `alwayslink = True` that calls REGISTER_HANDLER.
"""

def server_binary(name, handlers, **kwargs):
    native.cc_binary(
        name = name,
        deps = ["//server:main"] + handlers,
        **kwargs
    )
