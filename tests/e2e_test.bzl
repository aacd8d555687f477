"""e2e_test: an end-to-end test that starts real server processes (tests/server_process.h)."""

def e2e_test(name, data = [], deps = [], backends = [], **kwargs):
    """One cc_test, with servers on their default I/O backend; or, given `backends`, one per
    backend: `name` on the first, `name_<backend>` on the others.

    The backend reaches the servers the test starts as --io=<backend> (TEST_SERVER_IO, read by
    tests/server_process.cc).
    """
    for i, backend in enumerate(backends or [""]):
        native.cc_test(
            name = name if i == 0 else name + "_" + backend,
            size = "large",
            srcs = [name + ".cc", "test_util.h"],
            data = data + ["//server"],
            env = {"TEST_SERVER_IO": backend} if backend else {},
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
