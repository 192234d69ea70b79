// `lowbit cil` session state: per-data-set defaults and explicit options, and the partial file
// that --resume reads (missing, foreign, written under other settings, or reusable).
#include <gtest/gtest.h>

#include "test_tmp.h"

#include <cstdlib>
#include <filesystem>

#include "lowbit/cil/report.h"
#include "lowbit/cil/session.h"
#include "lowbit/nn/checkpoint.h"

namespace lowbit::cil {
namespace {

using test::tmp_path;

TEST(CilSession, DataSetDefaultsAndExplicitOptions) {
  SessionOptions o;
  o.dataset = "dsads";
  CilConfig c = resolve_config(o);
  EXPECT_EQ(c.model, "fcnet");
  EXPECT_EQ(c.method_cfg.memory, 200);
  EXPECT_EQ(c.method_cfg.train.epochs, 100);
  o.model = "mlp";
  o.memory = 0;  // explicit zero is a value, not "unset"
  o.epochs = 3;
  o.lr = 0.5f;
  c = resolve_config(o);
  EXPECT_EQ(c.model, "mlp");
  EXPECT_EQ(c.method_cfg.memory, 0);
  EXPECT_EQ(c.method_cfg.train.epochs, 3);
  EXPECT_EQ(c.method_cfg.train.lr, 0.5f);
  EXPECT_EQ(resolve_config(SessionOptions{}).model, "mlp");
  SessionOptions d;  // the quantized presets' settings per data set
  EXPECT_EQ(resolved_quant_set(d), "");
  d.dataset = "dsads";
  EXPECT_EQ(resolved_quant_set(d), "first.x=digits2");
  d.quant_set = "first.x=auto";
  EXPECT_EQ(resolved_quant_set(d), "first.x=auto");
}

TEST(CilSession, PartialFileIsReusedOnlyUnderTheSameSettings) {
  SessionOptions o;
  const nlohmann::json fp = fingerprint(o, resolve_config(o));
  const std::string path = tmp_path("cil-session-test.partial");
  std::filesystem::remove(path);
  EXPECT_TRUE(load_partial(path, fp, 2).empty());  // nothing finished yet

  RunResult r;
  r.preset = "hdqt";
  r.seed = 3;
  r.head.seen = {0.9, 0.7};
  r.head.per_task = {{0.9}, {0.6, 0.8}};
  r.task_seconds = {1.0, 2.0};
  const nlohmann::json file = {{"format", "lowbit-cil-partial"}, {"version", 1}, {"config", fp},
                               {"runs", nlohmann::json::array({run_to_json(r)})}};
  nn::write_file_atomic(path, file.dump());
  const std::vector<RunResult> back = load_partial(path, fp, 2);
  EXPECT_THROW(load_partial(path, fp, 3), IoError);  // recorded for 2 tasks, this run has 3
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].preset, "hdqt");
  EXPECT_EQ(back[0].seed, 3u);
  EXPECT_EQ(back[0].head.per_task, r.head.per_task);
  EXPECT_EQ(back[0].nme.num_tasks(), 0);

  SessionOptions other = o;
  other.epochs = 7;
  EXPECT_THROW(load_partial(path, fingerprint(other, resolve_config(other)), 2), ValueError);
  for (auto change : {+[](SessionOptions& s) { s.quant_set = "only=fwd.x"; }, +[](SessionOptions& s) { s.split = "random"; }}) {
    SessionOptions ablated = o;  // an ablation or another split must not resume these runs
    change(ablated);
    EXPECT_THROW(load_partial(path, fingerprint(ablated, resolve_config(ablated)), 2), ValueError);
  }
  nn::write_file_atomic(path, R"({"format": "something-else"})");
  EXPECT_THROW(load_partial(path, fp, 2), IoError);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lowbit::cil
