// libFuzzer target for the data layer's byte parsers: IDX (optionally gzipped), the binary
// data set cache, CIFAR binary records, DSADS segment text and 32x32 JPEG decoding. The first
// input byte picks the parser; the rest is its input. Only lowbit::IoError/ValueError may escape
// a parser (fuzz_util.h).
//
// Build and run (clang only):
//   scripts/fuzz-build idx_fuzz   (clang, build/fuzz; prints the folder of the target)
//   mkdir -p build/fuzz/corpus && build/fuzz/fuzz/idx_fuzz build/fuzz/corpus -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/data/cache.h"
#include "lowbit/data/cifar.h"
#include "lowbit/data/dsads.h"
#include "lowbit/data/idx.h"
#include "lowbit/data/io.h"
#include "fuzz_util.h"

using namespace lowbit::data;

namespace {

void fuzz_idx(std::span<const uint8_t> in) {
  // The gzip cap is small so the fuzzer explores the parser, not the allocator.
  const Bytes raw = is_gzip(in) ? gunzip(in, "fuzz", size_t{1} << 20) : Bytes(in.begin(), in.end());
  const IdxArray images = parse_idx(raw, 3, "fuzz");
  volatile uint8_t sink = images.values.empty() ? 0 : images.values.back();
  (void)sink;
  // Reuse the same bytes as labels when they parse as such: exercises idx_to_dataset checks.
  const IdxArray labels{{images.dims[0]}, images.values.first(static_cast<size_t>(images.dims[0]))};
  if (images.dims[1] * images.dims[2] <= 4096) idx_to_dataset(images, labels, 10, "fuzz");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::span<const uint8_t> in(data + 1, size - 1);
  return lowbit::fuzz::run_one([&] {
    switch (data[0] % 5) {
      case 0: fuzz_idx(in); break;
      case 1: decode_cache(in, 0, "fuzz"); break;
      case 2: {
        std::vector<uint8_t> px;
        std::vector<int32_t> labels;
        parse_cifar_records(in, 2, 1, 100, "fuzz", px, labels);
        break;
      }
      case 3: {
        std::vector<float> out(kDsadsChannels * kDsadsRows);
        parse_dsads_segment({reinterpret_cast<const char*>(in.data()), in.size()}, "fuzz", out.data());
        break;
      }
      case 4: {
        std::vector<uint8_t> out(kCifarPixels);
        decode_jpeg_rgb(in, "fuzz", out.data(), kCifarSide, kCifarSide);
        break;
      }
    }
  });
}
