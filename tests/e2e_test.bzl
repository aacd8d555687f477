"""e2e_test: an end-to-end test that starts real server processes (tests/server_process.h)."""

def e2e_test(name, data = [], deps = [], backends = ["epoll"], **kwargs):
    """One cc_test per I/O backend in `backends`: `name` on the first, `name_<backend>` on the rest.

    The backend reaches the servers the test starts as --io=<backend> (TEST_SERVER_IO, read by
    tests/server_process.cc).
    """
    for i, backend in enumerate(backends):
        native.cc_test(
            name = name if i == 0 else name + "_" + backend,
            size = "large",
            srcs = [name + ".cc", "test_util.h"],
            data = data + ["//server"],
            env = {"TEST_SERVER_IO": backend},
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
