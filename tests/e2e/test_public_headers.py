#!/usr/bin/env python3
"""The public headers need neither yaml-cpp, nor Boost.Asio, nor nlohmann/json.hpp.

    framework/include/weft/*.hpp     their #include lines name none of them
    one .cpp including them all  ──► c++ -M: none is reached, even through
                                     another header (nlohmann/json_fwd.hpp is)
                                 ──► c++ -fsyntax-only with DPDK's flags, the
                                     headers' directory and the compiler's
                                     default path (Boost, nlohmann_json) only:
                                     it compiles

tools/check-layout.py reads the #include lines too; this test also follows
them through every header the compiler opens, and compiles the result.

Element and service code written against the SDK therefore builds with DPDK,
Boost's headers and nlohmann_json; libweft links yaml-cpp privately, and a
service that runs I/O includes Boost.Asio itself (weft/service.hpp only
declares boost::asio::io_context).
"""
import os
import re
import shutil

import harness

INCLUDE = os.path.join(harness.REPO, "framework", "include")
# What must not be reached, as a path in the compiler's dependency list.
FORBIDDEN = {
    "yaml-cpp": re.compile(r"/yaml-cpp/"),
    "Boost.Asio": re.compile(r"/boost/asio(/|\.hpp$)"),
    "nlohmann/json.hpp": re.compile(r"/nlohmann/json\.hpp$"),
}
DIRECT = re.compile(r'#\s*include\s*[<"]((yaml-cpp/[^>"]*)|(boost/asio[^>"]*)|(nlohmann/json\.hpp))[>"]')


def main(t):
    t.needs("c++", "pkg-config")
    headers = sorted(h for h in os.listdir(os.path.join(INCLUDE, "weft")) if h.endswith(".hpp"))
    t.require(headers, "framework/include/weft holds the public headers")

    direct = []
    for h in headers:
        for n, line in enumerate(open(os.path.join(INCLUDE, "weft", h)), 1):
            m = DIRECT.search(line)
            if m:
                direct.append(f"weft/{h}:{n}: #include <{m.group(1)}>")
    t.check(not direct, f"none of the {len(headers)} public headers includes yaml-cpp, Boost.Asio or nlohmann/json.hpp",
            "\n".join(direct))

    dpdk = t.run(["pkg-config", "--cflags", "libdpdk"])
    t.require(dpdk.ok, "pkg-config knows DPDK (libdpdk)", dpdk.stderr)
    tu = t.write("all_headers.cpp", "".join(f"#include <weft/{h}>\n" for h in headers) + "int main() { return 0; }\n")
    # DPDK's directories as system headers (their C++20 warnings are not ours), as weft.pc gives them.
    dpdk_flags = ["-isystem" + f[2:] if f.startswith("-I") else f for f in dpdk.stdout.split()]
    cxx = [shutil.which("c++"), "-std=c++20", "-I" + INCLUDE, *dpdk_flags]

    deps = t.run(cxx + ["-M", tu])
    t.require(deps.ok, "c++ -M lists what the public headers include", deps.stderr[-3000:])
    files = [f for f in deps.stdout.replace("\\\n", " ").split()[1:]]
    for what, rx in FORBIDDEN.items():
        reached = [f for f in files if rx.search(f)]
        t.check(not reached, f"{what} is not reached through any public header", "\n".join(reached[:10]))
    t.check(any(f.endswith("/nlohmann/json_fwd.hpp") for f in files),
            "nlohmann/json_fwd.hpp is (weft/service.hpp's declarations of nlohmann::json)")

    built = t.run(cxx + ["-fsyntax-only", "-Wall", "-Wextra", "-Werror", tu], timeout=300)
    t.check(built.ok, "a file including every public header compiles with DPDK's flags and the default path only",
            built.stderr[-3000:])


if __name__ == "__main__":
    harness.run(main)
