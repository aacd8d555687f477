"""cc_fuzz_test: a libFuzzer target that is also a corpus regression test.

    cc_fuzz_test(name = "frame_decoder_fuzz", srcs = [...], deps = [...], corpus = glob([...]))

makes
  - `frame_decoder_fuzz`: a cc_test that replays every corpus file (runs in `bazel test //...`
    with any compiler and under asan/tsan/ubsan);
  - `frame_decoder_fuzz_fuzzer`: the libFuzzer binary, tagged manual, built only with
    --config=fuzz (clang): `./bazelw run --config=fuzz //protocol:frame_decoder_fuzz_fuzzer`.
"""

def cc_fuzz_test(name, srcs, deps = [], corpus = [], tags = [], local_defines = [], **kwargs):
    native.filegroup(name = name + "_corpus", srcs = corpus, testonly = True)
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + [Label("//bazel:fuzz_replay_main")],
        args = ["$(locations :%s_corpus)" % name],
        data = [":%s_corpus" % name],
        tags = tags,
        local_defines = local_defines,
        **kwargs
    )
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = srcs,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        tags = tags + ["manual"],
        local_defines = local_defines,
        testonly = True,
    )
