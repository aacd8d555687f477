"""server_binary: a server executable carrying a chosen set of handlers.

    load("//server:server.bzl", "server_binary")
    server_binary(name = "my_server", handlers = ["//my/handler"], default_handler = "mine")

Each handler label is a `cc_library` with `alwayslink = True` that calls REGISTER_HANDLER.
`default_handler` is the name served when `--handler` is not given. The `stats` handler is
always linked, since `--stats_port` serves it.
"""

_STATS = "//handlers/stats"

def _is_stats(label):
    if label.startswith(":"):
        label = "//" + native.package_name() + label
    label = label.lstrip("@")
    return label == _STATS or label == _STATS + ":stats"

def server_binary(name, handlers, default_handler = "echo", **kwargs):
    default_source = name + "_default_handler.cc"
    native.genrule(
        name = name + "_default_handler",
        outs = [default_source],
        cmd = "echo 'namespace server { extern const char kDefaultHandler[] = \"%s\"; }' > $@" %
              default_handler,
        visibility = ["//visibility:private"],
        testonly = kwargs.get("testonly", False),
    )
    extra = [] if [h for h in handlers if _is_stats(h)] else [Label(_STATS)]
    native.cc_binary(
        name = name,
        srcs = [default_source],
        deps = [Label("//server/app:main")] + handlers + extra,
        **kwargs
    )
