// The fuzz targets without libFuzzer: a main() that feeds every given file (folders are walked,
// files in sorted order, optionally only those ending in --suffix) once through the target's
// LLVMFuzzerTestOneInput. Built by every compiler in every preset (tests/robustness), so ctest
// replays the checked-in corpora and regression inputs in the release build and, under the
// asan preset, with ASan+UBSan; libFuzzer's own build (clang, scripts/fuzz-build) is only needed
// for random exploration. A finding aborts (fuzz_util.h) or escapes as an exception: non-zero exit.
//   onnx_replay [--suffix .onnx] PATH...
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool wanted(const fs::path& p, const std::string& suffix) {
  const std::string name = p.filename().string();
  return suffix.empty() || (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string suffix;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--suffix" && i + 1 < argc) {
      suffix = argv[++i];
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(arg))
        if (e.is_regular_file() && wanted(e.path(), suffix)) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(arg, ec)) {
      files.emplace_back(arg);
    } else {
      std::fprintf(stderr, "%s: %s is neither a file nor a folder\n", argv[0], arg.c_str());
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "%s: no inputs to replay (usage: %s [--suffix S] PATH...)\n", argv[0], argv[0]);
    return 2;
  }
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
      return 2;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::printf("replay %s (%zu bytes)\n", f.c_str(), bytes.size());
    std::fflush(stdout);  // the last name printed is the input that crashed
    // libFuzzer hands the target a buffer of exactly `size` bytes (never a null pointer); so
    // does this copy, so ASan sees an overread.
    static const uint8_t kEmpty = 0;
    const std::vector<uint8_t> exact(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(exact.empty() ? &kEmpty : exact.data(), exact.size());
  }
  std::printf("replayed %zu inputs without a finding\n", files.size());
  return 0;
}
