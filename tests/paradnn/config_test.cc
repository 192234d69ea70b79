// Presets, --set overrides and validation of ParaDnn configurations.
#include <gtest/gtest.h>

#include "lowbit/core/error.h"
#include "lowbit/paradnn/config.h"

namespace lowbit::paradnn {
namespace {

TEST(ParadnnConfig, PresetExpandsToTheCartesianProduct) {
  for (const auto& family : family_names())
    for (const auto& preset : preset_names()) {
      const Grid g = preset_grid(family, preset);
      size_t want = 1;
      for (const auto& [name, values] : g) want *= values.size();
      EXPECT_EQ(expand(family, g).size(), want) << family << " " << preset;
    }
}

TEST(ParadnnConfig, PaperPresetCoversTheReferenceRanges) {
  const Grid g = preset_grid("fc", "paper");
  EXPECT_EQ(g.at("layers").front(), 4);
  EXPECT_EQ(g.at("layers").back(), 128);
  EXPECT_EQ(g.at("nodes").back(), 8192);
  EXPECT_EQ(g.at("batch").back(), 16384);
  EXPECT_EQ(preset_grid("cnn", "paper").at("blocks").back(), 8);
}

TEST(ParadnnConfig, OverridesListsAndDoublingRanges) {
  Grid g = preset_grid("fc", "tiny");
  apply_override(g, "fc", "nodes=512,1024");
  EXPECT_EQ(g.at("nodes"), (std::vector<int64_t>{512, 1024}));
  apply_override(g, "fc", "batch=64..512");
  EXPECT_EQ(g.at("batch"), (std::vector<int64_t>{64, 128, 256, 512}));
  EXPECT_THROW(apply_override(g, "fc", "filters=16"), ValueError);  // a cnn knob
  EXPECT_THROW(apply_override(g, "fc", "nodes=12x"), ValueError);
  EXPECT_THROW(apply_override(g, "fc", "nodes"), ValueError);
  EXPECT_THROW(apply_override(g, "fc", "nodes=8..4"), ValueError);
}

TEST(ParadnnConfig, JsonRoundTripAndValidation) {
  const auto configs = expand("cnn", preset_grid("cnn", "tiny"));
  for (const auto& c : configs) {
    const ModelConfig back = ModelConfig::from_json(c.to_json());
    EXPECT_EQ(back.key(), c.key());
  }
  nlohmann::json j = configs[0].to_json();
  j["image"] = 8;  // the stem and three stride-2 groups need at least 32 pixels
  EXPECT_THROW(ModelConfig::from_json(j), ValueError);
  j.erase("image");
  EXPECT_THROW(ModelConfig::from_json(j), ValueError);
  EXPECT_THROW(ModelConfig::from_json({{"family", "transformer"}}), ValueError);
}

}  // namespace
}  // namespace lowbit::paradnn
