"""e2e_test: an end-to-end test that starts real server processes (tests/server_process.h)."""

def e2e_test(name, data = [], deps = [], **kwargs):
    native.cc_test(
        name = name,
        size = "large",
        srcs = [name + ".cc", "test_util.h"],
        data = data + ["//server"],
        deps = deps + [
            ":server_process",
            "//client:client_lib",
            "//protocol:frame",
            "@system//:absl",
            "@system//:gmock",
            "@system//:gtest_main",
        ],
        **kwargs
    )
