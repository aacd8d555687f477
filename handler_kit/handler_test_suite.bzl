"""handler_test_suite: the tests every handler gets, in this repository or a user's.

    load("//handler_kit:handler_test_suite.bzl", "handler_test_suite")

    handler_test_suite(
        name = "echo_kit",
        handler = ":echo",                 # the alwayslink target that registers it
        handler_name = "echo",             # the name it registers (--handler=echo)
        requests = ["hello", "", "again"], # requests it answers, one line each
        error_request = None,              # one it answers with an error, if it has one
        flags = [],                        # its own flags; "{tmp}" is a fresh directory
        corpus = glob(["fuzz_corpus/*"]),  # more fuzz inputs, besides the requests
    )

makes
  - `<name>_fuzz`: the connection fuzzer (handler_fuzz.cc) driving the handler: any bytes in
    any split, no crash, every complete frame answered in order with what the handler answers
    one request at a time, the connection closed only on a bad header or after a request
    that asks to close it (then what is owed ends there). A cc_fuzz_test: it
    replays a seed corpus made of `requests` in `bazel test`, and `<name>_fuzz_fuzzer` is the
    libFuzzer binary (--config=fuzz) that CI runs for a bounded time.
  - `<name>_conformance`: a server carrying only this handler, run as a process, checked for
    pipelined requests answered in order, an error reply that leaves the connection open (with
    `error_request`), and a drain that writes every owed reply (conformance_test.cc).
  - `<name>`: a test_suite of both.

`deterministic = False` is for a handler whose answers change by themselves (the stats
handler): the conformance test then checks one reply per request, none an error, instead of
comparing with the answers one at a time; the fuzz target is not made (it compares answers).

`expect_failure = {"fuzz": regex, "conformance": regex}` is for the kit's own tests, on
handlers broken on purpose (handler_kit/broken/): the tests are made but not run by
`bazel test //...` (tagged manual), and `<test>_fails` passes only if `<test>` fails printing
the regex.
"""

load("//bazel:fuzz.bzl", "cc_fuzz_test")
load("//server:server.bzl", "server_binary")

def _shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"

# A 4-byte big-endian length as printf's octal escapes: 5 -> \\000\\000\\000\\005.
def _be32_octal(n):
    out = ""
    for shift in [24, 16, 8, 0]:
        byte = (n // (1 << shift)) % 256
        out += "\\" + str(byte // 64) + str((byte // 8) % 8) + str(byte % 8)
    return out

def _c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

def handler_test_suite(
        name,
        handler,
        handler_name,
        requests,
        error_request = None,
        flags = [],
        deterministic = True,
        expect_failure = None,
        corpus = [],
        tags = [],
        **kwargs):
    for request in requests:
        if "\n" in request:
            fail("handler_test_suite: a request may not hold a newline: %r" % request)
    native.genrule(
        name = name + "_requests",
        outs = [name + "_requests.txt"],
        cmd = "printf '%%s\\n' %s > $@" % " ".join([_shell_quote(r) for r in requests]),
        testonly = True,
    )

    # The seed corpus: the requests as one stream, behind the fuzz target's 4 header bytes
    # (chunk seed, output limit, batch limit, frame limit: 0, 64, 7, 255 -> generous limits).
    # printf alone, so that building it needs nothing a build does not already have.
    native.genrule(
        name = name + "_seed",
        outs = [name + "_seed/requests"],
        cmd = "{ printf '\\000\\100\\007\\377'; %s} > $@" % "".join([
            "printf '%s'; printf '%%s' %s; " % (_be32_octal(len(r)), _shell_quote(r))
            for r in requests
        ]),
        testonly = True,
    )
    tests = []
    if deterministic:
        native.genrule(
            name = name + "_fuzz_config",
            outs = [name + "_fuzz_config.cc"],
            cmd = "echo %s > $@" % _shell_quote(
                "namespace handler_kit { extern const char kHandlerName[] = %s; " %
                _c_string(handler_name) +
                "extern const char kHandlerFlags[] = %s; }" % _c_string(" ".join(flags)),
            ),
            testonly = True,
        )
        cc_fuzz_test(
            name = name + "_fuzz",
            srcs = [":" + name + "_fuzz_config"],
            corpus = [":" + name + "_seed"] + corpus,
            deps = [handler, Label("//handler_kit:handler_fuzz")],
            tags = tags + (_BROKEN if expect_failure else []),
            **kwargs
        )
        tests.append(":" + name + "_fuzz")
        if expect_failure:
            _fails(name + "_fuzz", expect_failure["fuzz"],
                   ["$(locations :%s_fuzz_corpus)" % name], [":%s_fuzz_corpus" % name])
    server_binary(
        name = name + "_server",
        handlers = [handler],
        default_handler = handler_name,
        testonly = True,
        tags = tags,
    )
    args = [
        "--kit_server=$(rootpath :%s_server)" % name,
        "--kit_requests_file=$(rootpath :%s_requests)" % name,
        "--kit_deterministic=" + ("true" if deterministic else "false"),
        _shell_quote("--kit_server_flags=" + " ".join(flags)),  # args are split like a shell's
    ]
    if error_request != None:
        args.append(_shell_quote("--kit_error_request=" + error_request))
    else:
        args.append("--gtest_filter=-*AnErrorBecomesAnErrorReply*")
    data = [":" + name + "_server", ":" + name + "_requests"]
    native.cc_test(
        name = name + "_conformance",
        size = "medium",
        args = args,
        data = data,
        deps = [Label("//handler_kit:conformance")],
        tags = tags + (_BROKEN if expect_failure else []),
        **kwargs
    )
    tests.append(":" + name + "_conformance")
    if expect_failure:
        _fails(name + "_conformance", expect_failure["conformance"], args, data)
        tests = [t + "_fails" for t in tests]
    native.test_suite(name = name, tests = tests, tags = tags)

# A broken handler's kit tests run only through their _fails wrapper, and CI does not fuzz
# them (.ci/run leaves out this tag).
_BROKEN = ["manual", "broken_on_purpose"]

def _fails(test, expected, args, data):
    native.sh_test(
        name = test + "_fails",
        size = "medium",
        srcs = [Label("//handler_kit:expect_failure.sh")],
        args = ["$(rootpath :%s)" % test, _shell_quote(expected)] + args,
        data = [":" + test] + data,
    )
