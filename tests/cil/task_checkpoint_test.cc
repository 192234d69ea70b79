// Task checkpoints (task_checkpoint.h): a run stopped after task k and restored from its checkpoint
// ends bit for bit like the uninterrupted run (every accuracy and the final model), for fp32 and
// quantized presets and the methods that carry state across tasks; checkpoints that do not fit
// the run are refused with errors naming the file.
#include <gtest/gtest.h>

#include "test_tmp.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "lowbit/cil/task_checkpoint.h"
#include "synthetic_data.h"

namespace lowbit::cil {
namespace {

using test::tmp_path;

const nlohmann::json kFingerprint = {{"test", "task_checkpoint"}};

struct Outcome {
  RunResult result;
  nn::Checkpoint model;  // the final model's parameters and buffers
};

RunHooks keep_model(Outcome& out) {
  RunHooks h;
  h.on_model = [&out](const RunResult&, Method& m) { nn::add_module_state(out.model, m.model()); };
  return h;
}

Outcome uninterrupted(const CilSetup& setup, const CilConfig& cfg, const QuantSpec& q, uint64_t seed) {
  Outcome out;
  out.result = run_one(setup, cfg, q, seed, keep_model(out));
  return out;
}

// Stops after task `k` with a checkpoint in `path`, then finishes in a second run_one from it.
Outcome interrupted(const CilSetup& setup, const CilConfig& cfg, const QuantSpec& q, uint64_t seed, int k,
                    const std::string& path) {
  RunHooks first;
  first.on_task = [&](const RunResult& r, int t, Method& m) {
    save_task_checkpoint(path, kFingerprint, r, setup.tasks.size(), m);
    return t + 1 < k;
  };
  const RunResult part = run_one(setup, cfg, q, seed, first);
  EXPECT_TRUE(part.stopped);
  EXPECT_EQ(part.head.num_tasks(), k);
  Outcome out;
  RunHooks second = keep_model(out);
  second.restore = [&](const std::string& preset, uint64_t s, Method& m) -> std::optional<RunResult> {
    return restore_task_checkpoint(nn::load_checkpoint(path), path, kFingerprint, preset, s, setup, m);
  };
  out.result = run_one(setup, cfg, q, seed, second);
  return out;
}

void expect_identical(const Outcome& a, const Outcome& b, const std::string& what) {
  EXPECT_EQ(a.result.head.seen, b.result.head.seen) << what;
  EXPECT_EQ(a.result.head.per_task, b.result.head.per_task) << what;
  EXPECT_EQ(a.result.nme.seen, b.result.nme.seen) << what;
  EXPECT_EQ(a.result.nme.per_task, b.result.nme.per_task) << what;
  EXPECT_FALSE(b.result.stopped) << what;
  ASSERT_EQ(a.model.tensors.size(), b.model.tensors.size()) << what;
  for (size_t i = 0; i < a.model.tensors.size(); ++i) {
    const auto& [name, ta] = a.model.tensors[i];
    const Tensor ca = ta.contiguous(), cb = b.model.tensors[i].second.contiguous();
    ASSERT_EQ(ca.shape(), cb.shape()) << what << " " << name;
    EXPECT_EQ(std::memcmp(ca.data<float>(), cb.data<float>(), ca.nbytes()), 0) << what << ": " << name << " differs";
  }
}

TEST(CilTaskCheckpoint, StoppedAndRestoredRunsMatchUninterruptedOnesBitForBit) {
  const data::DatasetSplit split = synthetic();
  // hdqt with a forward range kept over 3 steps: the step counters and cached ranges carry over.
  const std::vector<QuantSpec> presets = {QuantSpec{}, QuantSpec{"hdqt", 4, 8}, QuantSpec{"hdqt", 4, 8, "fwd.x.period=3"}};
  for (const std::string method : {"icarl", "lwf", "bic"}) {
    CilConfig cfg = config(method);
    cfg.method_cfg.train.epochs = 3;
    const CilSetup setup = prepare(split, cfg);
    ASSERT_EQ(setup.tasks.size(), 3u);
    for (const QuantSpec& q : presets) {
      const Outcome full = uninterrupted(setup, cfg, q, 7);
      for (int k = 1; k <= 2; ++k) {
        const std::string what = fmt::format("{} {} [{}] stopped after task {}", method, q.preset, q.overrides, k);
        const std::string path = tmp_path(fmt::format("cil-task-ckpt-{}-{}-{}.ckpt", method, q.preset, k));
        expect_identical(full, interrupted(setup, cfg, q, 7, k, path), what);
        std::filesystem::remove(path);
      }
    }
  }
}

// Writes the checkpoint of hdqt bic seed 3 after task 2 and returns its path.
std::string bic_checkpoint(const CilSetup& setup, const CilConfig& cfg, const QuantSpec& q) {
  const std::string path = tmp_path("cil-task-ckpt-errors.ckpt");
  RunHooks h;
  h.on_task = [&](const RunResult& r, int t, Method& m) {
    if (t == 1) save_task_checkpoint(path, kFingerprint, r, setup.tasks.size(), m);
    return t < 1;
  };
  (void)run_one(setup, cfg, q, 3, h);
  return path;
}

// Restores `ck` (as read from `origin`) into a fresh run; returns the error message.
template <typename E>
std::string restore_error(const CilSetup& setup, const CilConfig& cfg, const QuantSpec& q, const nn::Checkpoint& ck,
                          const std::string& origin, const nlohmann::json& fp = kFingerprint) {
  RunHooks h;
  h.restore = [&](const std::string& preset, uint64_t s, Method& m) -> std::optional<RunResult> {
    return restore_task_checkpoint(ck, origin, fp, preset, s, setup, m);
  };
  try {
    (void)run_one(setup, cfg, q, 3, h);
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "restoring " << origin << " did not throw";
  return "";
}

nn::Checkpoint with_meta(nn::Checkpoint ck, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json meta = nlohmann::json::parse(ck.meta_json);
  edit(meta);
  ck.meta_json = meta.dump();
  return ck;
}

TEST(CilTaskCheckpoint, RefusesCheckpointsThatDoNotFitTheRun) {
  const data::DatasetSplit split = synthetic();
  CilConfig cfg = config("bic");
  cfg.method_cfg.train.epochs = 1;
  const CilSetup setup = prepare(split, cfg);
  const QuantSpec q{"hdqt", 4, 8};
  const std::string path = bic_checkpoint(setup, cfg, q);
  const nn::Checkpoint ck = nn::load_checkpoint(path);
  const auto has = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << "'" << msg << "' lacks '" << part << "'";
  };

  has(restore_error<ValueError>(setup, cfg, q, ck, path, {{"test", "other"}}), path + " was written with other settings");
  has(restore_error<IoError>(setup, cfg, QuantSpec{}, ck, path), "written for preset \"hdqt\" seed 3, expected fp32 seed 3");
  has(restore_error<IoError>(setup, config("icarl"), q, ck, path), "written by method \"bic\"");
  has(restore_error<IoError>(setup, cfg, q, with_meta(ck, [](auto& m) { m["tasks_done"] = 3; }), path), "3 tasks done");
  has(restore_error<IoError>(setup, cfg, q, with_meta(ck, [](auto& m) { m["format"] = "x"; }), path), "not a task checkpoint");
  has(restore_error<IoError>(setup, cfg, q, with_meta(ck, [](auto& m) { m["result"]["head"]["seen_accuracy"][0] = 2; }), path),
      "not in [0, 1]");
  has(restore_error<IoError>(setup, cfg, q, with_meta(ck, [](auto& m) { m["state"]["quant"].erase(0); }), path),
      "quantizer state of");
  has(restore_error<IoError>(setup, cfg, q, with_meta(ck, [](auto& m) { m["state"]["quant"][0]["step"] = -1; }), path),
      "is invalid (step -1");
  // An exemplar of another class, an index past the training set, a class the run has not seen.
  const auto memory_error = [&](const std::function<void(nlohmann::json&)>& edit) {
    return restore_error<IoError>(setup, cfg, q, with_meta(ck, [&](auto& m) { edit(m["state"]["memory"]["classes"]); }), path);
  };
  has(memory_error([](auto& c) { c[0][1][0] = c[1][1][0]; }), "exemplar memory: class 0");
  has(memory_error([&](auto& c) { c[0][1][0] = setup.train.size(); }), "is not a distinct training sample");
  has(memory_error([](auto& c) { c[0][0] = 5; }), "class 5 is repeated or outside [0, 4)");
  has(restore_error<IoError>(setup, cfg, q, with_meta(ck, [](auto& m) { m["state"]["bic_corrections"][0][2] = "a"; }), path),
      "BiC bias corrections");
  nn::Checkpoint no_means = ck;
  std::erase_if(no_means.tensors, [](const auto& e) { return e.first == "nme.means"; });
  has(restore_error<IoError>(setup, cfg, q, no_means, path), "'nme.means' must be f32 (4, ");
  nn::Checkpoint no_head = ck;
  std::erase_if(no_head.tensors, [](const auto& e) { return e.first == "model.fc.weight"; });
  has(restore_error<IoError>(setup, cfg, q, no_head, path), "missing entry 'model.fc.weight'");

  // A truncated file: the checkpoint reader names it.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  try {
    (void)nn::load_checkpoint(path);
    ADD_FAILURE() << "a truncated checkpoint loaded";
  } catch (const IoError& e) {
    has(e.what(), path);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lowbit::cil
