// Fixture writers for the data tests (temp folders, gzip via zlib, JPEG via libjpeg-turbo).
#include "data/fixtures.h"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <jpeglib.h>

namespace lowbit::data::testing {
namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& tag) {
  const char* env = std::getenv("LOWBIT_TEST_TMP");
  const fs::path base = env && *env ? fs::path(env) : fs::temp_directory_path();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("lowbit-data-") + info->test_suite_name() + "-" + info->name() + tag;
  for (char& c : name)
    if (c == '/') c = '_';
  const fs::path dir = base / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& p, std::span<const uint8_t> bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

void write_text(const fs::path& p, const std::string& text) {
  write_bytes(p, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

std::vector<uint8_t> gzip(std::span<const uint8_t> raw) {
  z_stream zs{};
  // windowBits 15 + 16: write a gzip (not zlib) wrapper.
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int rows, int cols, int components, int quality) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = static_cast<JDIMENSION>(cols);
  cinfo.image_height = static_cast<JDIMENSION>(rows);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + static_cast<size_t>(cinfo.next_scanline) * cols * components);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buf);
  return out;
}

std::vector<uint8_t> idx_bytes(std::initializer_list<uint32_t> dims, std::span<const uint8_t> values, int ndim) {
  if (ndim < 0) ndim = static_cast<int>(dims.size());
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(ndim)};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(d >> s));
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

}  // namespace lowbit::data::testing
