// JPEG decoding through libjpeg-turbo's classic libjpeg API. libjpeg reports fatal errors by
// calling error_exit, which must not return: we longjmp back out of it. Only trivially
// destructible objects live between setjmp and the libjpeg calls, so the jump is safe in C++.
#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>

#include "lowbit/core/error.h"
#include "lowbit/data/cifar.h"

namespace lowbit::data {
namespace {

struct ErrorMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorMgr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr) {}  // warnings (e.g. extraneous bytes) are not fatal; stay quiet

enum class Outcome { ok, libjpeg_error, not_rgb, wrong_size };

// C-style core: no C++ objects with destructors, so longjmp skips nothing.
Outcome decode(const uint8_t* data, size_t size, uint8_t* out, int want_rows, int want_cols, int* rows, int* cols,
               int* components, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorMgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.output_message = on_message;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    jpeg_destroy_decompress(&cinfo);
    return Outcome::libjpeg_error;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  *rows = static_cast<int>(cinfo.image_height);
  *cols = static_cast<int>(cinfo.image_width);
  *components = cinfo.num_components;
  if (cinfo.num_components != 3 || (cinfo.jpeg_color_space != JCS_YCbCr && cinfo.jpeg_color_space != JCS_RGB)) {
    jpeg_destroy_decompress(&cinfo);
    return Outcome::not_rgb;
  }
  // Checked before decoding: `out` holds exactly want_rows x want_cols pixels.
  if (*rows != want_rows || *cols != want_cols) {
    jpeg_destroy_decompress(&cinfo);
    return Outcome::wrong_size;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t stride = static_cast<size_t>(cinfo.output_width) * 3;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return Outcome::ok;
}

}  // namespace

void decode_jpeg_rgb(std::span<const uint8_t> jpeg, const std::string& what, uint8_t* out, int rows, int cols) {
  int got_rows = 0, got_cols = 0, comps = 0;
  char message[JMSG_LENGTH_MAX] = {0};
  switch (decode(jpeg.data(), jpeg.size(), out, rows, cols, &got_rows, &got_cols, &comps, message)) {
    case Outcome::ok: return;
    case Outcome::libjpeg_error: throw IoError(fmt::format("[jpeg] {}: not a valid JPEG ({})", what, message));
    case Outcome::not_rgb:
      throw IoError(fmt::format("[jpeg] {}: {} colour component(s) (expected 3-channel RGB colour)", what, comps));
    case Outcome::wrong_size:
      throw IoError(fmt::format("[jpeg] {}: image is {}x{} (expected {}x{}; images are not resized)", what, got_cols,
                                got_rows, cols, rows));
  }
}

}  // namespace lowbit::data
