// Classifier checkpoint metadata: a round trip through a training checkpoint keeps every field,
// checkpoints written before the "quant" record read as fp32, and non-classifier metadata is an
// IoError naming the file.
#include <gtest/gtest.h>

#include "lowbit/train/classifier_meta.h"

namespace lowbit::train {
namespace {

TEST(ClassifierMeta, RoundTripsThroughTheCheckpointJson) {
  ClassifierMeta m;
  m.model = "fcnet";
  m.dataset = "dsads";
  m.input_shape = {45, 125};
  m.num_classes = 19;
  m.norm = {{0.5f, 0.25f}, {2.0f, 4.0f}};
  m.seed = 42;
  m.quant_preset = "hdqt";
  m.quant_bits = 5;
  m.quant_acc_bits = 12;
  nn::Checkpoint ck;
  ck.meta_json = to_json(m);
  const ClassifierMeta r = parse_classifier_meta(ck, "ck.bin");
  EXPECT_EQ(r.model, "fcnet");
  EXPECT_EQ(r.dataset, "dsads");
  EXPECT_EQ(r.input_shape, (Shape{45, 125}));
  EXPECT_EQ(r.num_classes, 19);
  EXPECT_EQ(r.norm.mean, m.norm.mean);
  EXPECT_EQ(r.norm.stddev, m.norm.stddev);
  EXPECT_EQ(r.seed, 42u);
  EXPECT_EQ(r.quant_preset, "hdqt");
  EXPECT_EQ(r.quant_bits, 5);
  EXPECT_EQ(r.quant_acc_bits, 12);
  EXPECT_EQ(build_classifier(r)->num_classes(), 19);
}

TEST(ClassifierMeta, OlderCheckpointsAreFp32AndOthersAreRejected) {
  nn::Checkpoint ck;
  ck.meta_json = R"({"format": "lowbit-classifier", "model": "mlp", "input_shape": [1, 28, 28], "num_classes": 10})";
  const ClassifierMeta r = parse_classifier_meta(ck, "old.bin");
  EXPECT_EQ(r.quant_preset, "fp32");
  EXPECT_EQ(r.seed, 0u);
  ck.meta_json = R"({"epochs_done": 3})";
  try {
    parse_classifier_meta(ck, "other.bin");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("other.bin"), std::string::npos) << e.what();
  }
  ck.meta_json = R"({"format": "lowbit-classifier", "model": "mlp"})";
  EXPECT_THROW(parse_classifier_meta(ck, "partial.bin"), IoError);
  ck.meta_json = "not json";
  EXPECT_THROW(parse_classifier_meta(ck, "garbage.bin"), IoError);
}

}  // namespace
}  // namespace lowbit::train
