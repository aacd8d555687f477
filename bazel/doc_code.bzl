"""doc_code_repository: the code blocks of a Markdown guide, as a Bazel repository.

A guide marks each block that is a whole file with an HTML comment naming the file:

    <!-- file: handlers/rot13/rot13.h -->
    ```c++
    ...
    ```

This rule writes every such block to that path in an external repository, so the guide's own
code is built and tested exactly as a reader would copy it. Labels in its BUILD files that point
into the main workspace (`"//handlers:handler"`) are rewritten to `"@//handlers:handler"`; those
of the packages the guide creates stay as they are; a BUILD file without a `package()` gets a
public default visibility, for the main workspace's tests. Nothing else changes. The rule runs again whenever the guide changes.

    doc_code_repository(name = "handler_guide", doc = "//docs:writing-a-handler.md")
    # then: @handler_guide//handlers/rot13:rot13_test
"""

_MARKER = "<!-- file: "
_BUILD_FILES = ["BUILD", "BUILD.bazel"]

# "//x:y" -> "@//x:y", except for the packages the guide itself creates.
def _point_into_main_workspace(build_file, own_packages):
    build_file = build_file.replace("\"//", "\"@//")
    for package in own_packages:
        for end in ["\"", ":"]:
            build_file = build_file.replace("\"@//" + package + end, "\"//" + package + end)
    return build_file

def _extract(text):
    files = {}
    path = None
    lines = None
    for line in text.split("\n"):
        if lines != None:
            if line.startswith("```"):
                files[path] = "\n".join(lines) + "\n"
                path, lines = None, None
            else:
                lines.append(line)
        elif line.startswith(_MARKER):
            path = line[len(_MARKER):].replace("-->", "").strip()
        elif path != None and line.startswith("```"):
            lines = []
    if path != None:
        fail("the block for {} is not closed".format(path))
    return files

def _doc_code_repository_impl(ctx):
    text = ctx.read(ctx.path(ctx.attr.doc))
    files = _extract(text)
    if not files:
        fail("{} has no '{}path -->' blocks".format(ctx.attr.doc, _MARKER))
    ctx.file("WORKSPACE", "workspace(name = \"{}\")\n".format(ctx.name))
    packages = [path.rpartition("/")[0] for path in files if path.rpartition("/")[2] in _BUILD_FILES]
    for path, content in files.items():
        if path.rpartition("/")[2] in _BUILD_FILES:
            content = _point_into_main_workspace(content, packages)
            if "package(" not in content:  # so that the main workspace's tests can use them
                content = "package(default_visibility = [\"//visibility:public\"])\n" + content
        ctx.file(path, content)

doc_code_repository = repository_rule(
    implementation = _doc_code_repository_impl,
    attrs = {"doc": attr.label(allow_single_file = [".md"])},
    doc = "Writes a guide's '<!-- file: path -->' code blocks into a repository.",
)
