"""test_handler: a test-only handler package, linked into //tests:test_server only."""

def test_handler(name, srcs):
    native.cc_library(
        name = name,
        testonly = True,
        srcs = srcs,
        alwayslink = True,  # nothing refers to the registration; keep it linked
        visibility = ["//tests:__pkg__"],
        deps = [
            "//handlers:handler",
            "//handlers:registry",
            "@system//:absl",
            "@system//:gflags",
        ],
    )
