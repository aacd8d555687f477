"""tcp_server_dependencies(): everything this project needs declared in a WORKSPACE.

This project's own WORKSPACE calls it, and so does a workspace of a user's own that builds a
server with handlers of its own (examples/own_repository):

    local_repository(name = "tcp_server", path = "../tcp_server")   # or an http_archive
    load("@tcp_server//bazel:dependencies.bzl", "tcp_server_dependencies")
    tcp_server_dependencies()

It declares
  - `@rules_cc`, `@rules_java`, `@remote_coverage_tools`: small local stand-ins for what Bazel
    4.2.3 would download (no internet here: ../shared/notes/bazel-offline.md);
  - `@system`: Debian's prebuilt libraries (Abseil, gflags, glog, GoogleTest, OpenSSL,
    liburing, RocksDB, cpp-httplib, libsystemd), found through pkg-config. `bazelw` installs them.
"""

load("//third_party:pkg_config.bzl", "pkg_config_repository")

def _stand_in_impl(ctx):
    # The stand-in's files, in this project's third_party/stand_ins/<name>.
    root = ctx.path(Label("//third_party:pkg_config.bzl")).dirname.get_child("stand_ins")
    for child in root.get_child(ctx.attr.source).readdir():
        ctx.symlink(child, child.basename)

_stand_in = repository_rule(
    implementation = _stand_in_impl,
    attrs = {"source": attr.string(mandatory = True)},
    doc = "A repository made of one of third_party/stand_ins/'s directories.",
)

def tcp_server_dependencies():
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        if name not in native.existing_rules():
            _stand_in(name = name, source = name)
    pkg_config_repository(
        name = "system",
        libraries = {
            "absl": [
                "absl_flat_hash_map",
                "absl_span",
                "absl_status",
                "absl_statusor",
                "absl_str_format",
                "absl_strings",
                "absl_synchronization",
                "absl_time",
            ],
            "benchmark": ["benchmark"],
            "gflags": ["gflags"],
            "glog": ["libglog"],
            "gmock": ["gmock"],
            "gtest": ["gtest"],
            "gtest_main": ["gtest_main"],
            "httplib": ["cpp-httplib"],
            "liburing": ["liburing"],
            "openssl": ["openssl"],
            "rocksdb": ["rocksdb"],
            "systemd": ["libsystemd"],
        },
    )
