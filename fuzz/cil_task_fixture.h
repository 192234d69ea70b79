// A tiny class-incremental run (4 classes of 4-dimensional points, 4 tasks of one class, fcnet,
// BiC under hdqt) whose task checkpoints checkpoint_fuzz restores and make_seeds writes (after
// task 2): BiC keeps every kind of state (memory, class means, a correction) and hdqt a
// quantizer state per layer.
#pragma once

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "lowbit/cil/runner.h"
#include "lowbit/cil/task_checkpoint.h"
#include "lowbit/core/rng.h"
#include "lowbit/fqt/quant_config.h"

namespace lowbit::fuzz {

struct CilTaskFixture {
  cil::CilConfig cfg;
  cil::CilSetup setup;
  fqt::PresetSpec quant{"hdqt", 4, 8, ""};
  uint64_t seed = 1;
  nlohmann::json fingerprint = {{"fuzz", "cil-task-checkpoint"}};

  std::unique_ptr<cil::Method> fresh_method() const {
    cil::ModelOps ops;
    ops.build = [this](int64_t n) {
      auto m = nn::build_model(cfg.model, {4}, n);
      nn::init_parameters(*m, seed);
      fqt::apply_preset(*m, quant, seed);
      return m;
    };
    ops.requantize = [this](nn::Classifier& m, int) { fqt::apply_preset(m, quant, seed); };
    cil::MethodConfig mc = cfg.method_cfg;
    mc.train.seed = seed;
    return cil::make_method(cfg.method, mc, ops);
  }
};

inline data::Dataset cil_fixture_points(uint64_t stream) {
  data::Dataset ds;
  ds.name = "points";
  ds.num_classes = 4;
  ds.class_names = {"a", "b", "c", "d"};
  ds.inputs = Tensor::empty({16, 4});
  ds.labels = Tensor::empty({16}, DType::i32);
  normal_fill(3, stream, 0, 64, ds.inputs.data<float>());
  for (int64_t i = 0; i < 16; ++i) {
    ds.labels.data<int32_t>()[i] = static_cast<int32_t>(i % 4);
    ds.inputs.data<float>()[i * 4 + i % 4] += 3.0f;
  }
  return ds;
}

inline CilTaskFixture cil_task_fixture() {
  CilTaskFixture f;
  f.cfg.method = "bic";
  f.cfg.model = "fcnet";
  f.cfg.classes_per_task = 1;
  f.cfg.method_cfg.memory = 8;
  f.cfg.method_cfg.bic_steps = 5;
  f.cfg.method_cfg.train.epochs = 1;
  f.cfg.method_cfg.train.batch_size = 8;
  f.cfg.method_cfg.train.progress = false;
  data::DatasetSplit split;
  split.train = cil_fixture_points(1);
  split.test = cil_fixture_points(2);
  f.setup = cil::prepare(split, f.cfg);
  return f;
}

// The task checkpoint of the fixture's run after its first two tasks, as bytes.
inline std::string cil_task_checkpoint_bytes(const CilTaskFixture& f, const std::string& tmp_path) {
  auto m = f.fresh_method();
  cil::RunResult r;
  r.preset = f.quant.preset;
  r.seed = f.seed;
  for (int t = 0; t < 2; ++t) {
    m->train_task(f.setup.train, f.setup.tasks, t);
    const auto& idx = f.setup.test_seen[static_cast<size_t>(t)];
    const cil::Prediction p = m->predict(data::gather_rows(f.setup.test.inputs, idx));
    const Tensor labels = data::gather_rows(f.setup.test.labels, idx);
    cil::record_task(r.head, p.head, labels, f.setup.tasks);
    cil::record_task(r.nme, p.nme, labels, f.setup.tasks);
    r.task_seconds.push_back(0.25);
  }
  cil::save_task_checkpoint(tmp_path, f.fingerprint, r, f.setup.tasks.size(), *m);
  std::ifstream in(tmp_path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  std::remove(tmp_path.c_str());
  return bytes;
}

}  // namespace lowbit::fuzz
