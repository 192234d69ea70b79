// Checkpoint files: named tensors plus a JSON metadata string, written atomically.
//
// Format (little-endian), version 1:
//   bytes 0..7   magic "LOWBITCK"
//   u32          format version (1)
//   u32          flags (0)
//   u64          metadata length L, then L bytes of UTF-8 JSON (model name, input shape, epoch, ...)
//   u64          tensor count T, then T records:
//                  u32 name length, name bytes; u8 dtype (0 f32, 1 i32, 2 i8, 3 u8, 4 i4);
//                  u8 rank R; R x i64 dims; u64 payload bytes; payload (contiguous)
//   u32          CRC-32 (zlib) of every byte before it
// Loading checks the magic, version, every length against the bytes left, the dtype, that the
// payload size matches the dims, and the CRC; errors name the file and the field.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lowbit/core/tensor.h"
#include "lowbit/nn/module.h"
#include "lowbit/nn/optim.h"

namespace lowbit::nn {

struct Checkpoint {
  std::string meta_json = "{}";
  std::vector<std::pair<std::string, Tensor>> tensors;
  const Tensor* find(const std::string& name) const;
};

constexpr uint32_t kCheckpointVersion = 1;

// Writes to "<path>.tmp", fsyncs, then renames over `path`: a kill never leaves a torn file.
void save_checkpoint(const std::string& path, const Checkpoint& ck);
Checkpoint load_checkpoint(const std::string& path);
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& origin);  // for fuzzing/tests

// Adds the module's parameters and buffers under `prefix` (e.g. "model.").
void add_module_state(Checkpoint& ck, Module& m, const std::string& prefix = "model.");
void add_optimizer_state(Checkpoint& ck, Optimizer& opt, const std::string& prefix = "optim.");
// Copies matching entries into the module; every parameter and buffer must be present with the
// same shape and dtype (errors name the entry and the file).
void load_module_state(const Checkpoint& ck, Module& m, const std::string& origin, const std::string& prefix = "model.");
void load_optimizer_state(const Checkpoint& ck, Optimizer& opt, const std::string& origin,
                          const std::string& prefix = "optim.");

// Atomic write of any text/bytes file (JSON summaries, reports).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace lowbit::nn
