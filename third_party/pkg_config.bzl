"""A repository rule that exposes Debian's libraries to Bazel through pkg-config.

Each entry of `libraries` maps a target name to the pkg-config modules it stands for:

    pkg_config_repository(
        name = "system",
        libraries = {"absl": ["absl_strings", "absl_status"], "glog": ["libglog"]},
    )

gives `@system//:absl` and `@system//:glog`, ordinary cc_library targets whose defines and
link flags are whatever pkg-config reports on this machine. Headers live in /usr/include, which
the compiler searches already, so no include paths are copied.
"""

def _run_pkg_config(ctx, args):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config {} failed: {}\nRun ./bazelw, which installs the missing Debian packages.".format(
            " ".join(args),
            result.stderr.strip(),
        ))
    return [flag for flag in result.stdout.strip().split(" ") if flag]

def _library(ctx, name, modules):
    defines = []
    copts = []
    for flag in _run_pkg_config(ctx, ["--cflags"] + modules):
        if flag.startswith("-D"):
            defines.append(flag[2:])
        elif flag.startswith("-I"):
            copts.append("-isystem" + flag[2:])
        else:
            copts.append(flag)
    linkopts = _run_pkg_config(ctx, ["--libs"] + modules)
    return """
cc_library(
    name = {name},
    defines = {defines},
    copts = {copts},
    linkopts = {linkopts},
)
""".format(name = repr(name), defines = repr(defines), copts = repr(copts), linkopts = repr(linkopts))

def _pkg_config_repository_impl(ctx):
    if not ctx.which("pkg-config"):
        fail("pkg-config is not installed. Run ./bazelw, which installs what the build needs.")
    build = ['package(default_visibility = ["//visibility:public"])\n']
    for name in sorted(ctx.attr.libraries.keys()):
        build.append(_library(ctx, name, ctx.attr.libraries[name]))
    ctx.file("WORKSPACE", 'workspace(name = "{}")\n'.format(ctx.name))
    ctx.file("BUILD.bazel", "".join(build))

pkg_config_repository = repository_rule(
    implementation = _pkg_config_repository_impl,
    attrs = {
        "libraries": attr.string_list_dict(mandatory = True),
    },
    environ = ["PKG_CONFIG_PATH"],
    configure = True,
    local = True,
)
