# Third-party dependencies, all from Debian 12 packages installed by scripts/setup. Each required
# package that is missing stops configure with the name of the Debian package that provides it.

# lowbit_require(FOUND_VAR DEBIAN_PACKAGE WHAT): fail configure naming the package to install.
function(lowbit_require found package what)
  if(NOT ${found})
    message(FATAL_ERROR "lowbit needs ${what}: install the Debian package '${package}' "
                        "(scripts/setup installs everything: run 'make test' or 'scripts/setup')")
  endif()
endfunction()

find_package(OpenMP QUIET)
lowbit_require(OpenMP_CXX_FOUND libomp-dev "OpenMP")
find_package(Threads REQUIRED)
find_package(ZLIB QUIET)
lowbit_require(ZLIB_FOUND zlib1g-dev "zlib")
find_package(fmt QUIET)
lowbit_require(fmt_FOUND libfmt-dev "fmt")
find_package(CLI11 CONFIG QUIET)
lowbit_require(CLI11_FOUND libcli11-dev "CLI11")
find_package(nlohmann_json QUIET)
lowbit_require(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann-json")
# oneDNN's CMake config looks for OpenCL, which libdnnl-dev only recommends.
find_package(OpenCL QUIET)
lowbit_require(OpenCL_FOUND ocl-icd-opencl-dev "the OpenCL headers and loader that oneDNN's CMake config requires")
find_package(dnnl CONFIG QUIET)
lowbit_require(dnnl_FOUND libdnnl-dev "oneDNN")
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS QUIET IMPORTED_TARGET openblas)
lowbit_require(OPENBLAS_FOUND libopenblas-dev "OpenBLAS")
# ONNX import/export and the graph engine. Protobuf must be found first: ONNX's targets link
# protobuf::libprotobuf, and libonnx-dev does not depend on libprotobuf-dev.
find_package(Protobuf QUIET)
lowbit_require(Protobuf_FOUND libprotobuf-dev "protobuf (for ONNX)")
find_package(ONNX QUIET)
lowbit_require(ONNX_FOUND libonnx-dev "ONNX")
if(LOWBIT_BUILD_TESTS)
  find_package(GTest QUIET)
  lowbit_require(GTest_FOUND libgtest-dev "GoogleTest")
endif()
if(LOWBIT_BUILD_BENCH)
  find_package(benchmark QUIET)
  lowbit_require(benchmark_FOUND libbenchmark-dev "Google Benchmark")
endif()
