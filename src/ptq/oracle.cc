// Measured answers for mixed-precision searches (oracle.h): accuracy (or fidelity to fp32)/loss/
// SQNR of a QDQ configuration on the evaluation subset and its median latency, cached on disk.
#include "lowbit/ptq/oracle.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/onnx/executor.h"
#include "lowbit/ptq/calibrate.h"

namespace lowbit::ptq {

std::string fnv1a_hex(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

Measurement score_logits(const onnx::Array& logits, const std::vector<int32_t>& labels, const onnx::Array& ref) {
  const int64_t n = logits.shape()[0], c = logits.shape()[1];
  double loss = 0, sig = 0, noise = 0;
  int64_t hits = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* row = logits.data<float>() + r * c;
    const int64_t best = std::max_element(row, row + c) - row;
    const double mx = row[best];
    double z = 0;
    for (int64_t k = 0; k < c; ++k) z += std::exp(row[k] - mx);
    const int32_t y = labels[static_cast<size_t>(r)];
    loss += std::log(z) + mx - row[y];
    hits += best == y;
  }
  if (ref.numel() == logits.numel())
    for (int64_t i = 0; i < logits.numel(); ++i) {
      const double a = ref.data<float>()[i], d = a - logits.data<float>()[i];
      sig += a * a;
      noise += d * d;
    }
  Measurement m;
  m.top1 = static_cast<double>(hits) / static_cast<double>(n);
  m.loss = loss / static_cast<double>(n);
  m.sqnr_db = noise > 0 ? 10.0 * std::log10(std::max(sig, 1e-30) / noise) : 200.0;
  return m;
}

Measurement score_fidelity(const onnx::Array& out, const onnx::Array& ref) {
  LOWBIT_REQUIRE(out.numel() == ref.numel() && out.type() == onnx::ElemType::f32, "ptq", "fidelity needs float32 outputs of the reference's shape");
  double sig = 0, noise = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double a = ref.data<float>()[i], d = a - out.data<float>()[i];
    sig += a * a;
    noise += d * d;
  }
  sig = std::max(sig, 1e-30);
  Measurement m;
  m.loss = noise / sig;                 // relative squared error
  m.top1 = 1.0 - std::sqrt(m.loss);     // 1 − ‖y − y_fp32‖ / ‖y_fp32‖
  m.sqnr_db = noise > 0 ? 10.0 * std::log10(sig / noise) : 200.0;
  return m;
}

const char* fidelity_name(Fidelity f) {
  switch (f) {
    case Fidelity::labels: return "top-1 accuracy";
    case Fidelity::agreement: return "top-1 agreement with fp32";
    case Fidelity::relative_l2: return "1 - relative L2 error vs fp32";
  }
  return "?";
}

namespace {

// The first output over every sample (batches of `batch` rows), concatenated along dimension 0.
onnx::Array run_all(onnx::Session& s, const InputBatch& x, int64_t batch) {
  const int64_t n = x.samples();
  std::vector<onnx::Array> parts;
  for (int64_t r0 = 0; r0 < n; r0 += batch) parts.push_back(s.run(x.rows(r0, std::min(n, r0 + batch)).arrays)[0]);
  LOWBIT_REQUIRE(parts[0].type() == onnx::ElemType::f32 && parts[0].dim() >= 1 && parts[0].shape()[0] == std::min(n, batch), "ptq",
                 "the model's first output is {} {}; expected float32 with the batch first", onnx::elem_name(parts[0].type()),
                 shape_str(parts[0].shape()));
  Shape shape = parts[0].shape();
  shape[0] = n;
  onnx::Array out = onnx::Array::empty(onnx::ElemType::f32, shape);
  int64_t at = 0;
  for (const auto& p : parts) {
    std::copy(p.data<float>(), p.data<float>() + p.numel(), out.data<float>() + at);
    at += p.numel();
  }
  return out;
}

}  // namespace

ModelOracle::ModelOracle(const QdqPlan& plan, InputBatch inputs, std::vector<int32_t> labels, ModelOracleOptions opt)
    : plan_(plan), inputs_(std::move(inputs)), labels_(std::move(labels)), opt_(std::move(opt)) {
  const int64_t n = inputs_.samples();
  LOWBIT_REQUIRE(n > 0, "ptq", "the evaluation set is empty");
  LOWBIT_REQUIRE(labels_.empty() || static_cast<int64_t>(labels_.size()) == n, "ptq", "the evaluation set has {} samples but {} labels", n,
                 labels_.size());
  onnx::Session fp(plan_.graph, onnx::SessionOptions{1, opt_.threads, true});
  ref_logits_ = run_all(fp, inputs_, opt_.eval_batch);
  const bool classifier = ref_logits_.dim() == 2 && ref_logits_.shape()[1] >= 2;
  if (!labels_.empty()) {
    LOWBIT_REQUIRE(classifier, "ptq", "labels were given, but the model's first output is {}; expected [batch, classes] scores",
                   shape_str(ref_logits_.shape()));
    const int64_t classes = ref_logits_.shape()[1];
    for (int32_t y : labels_)
      LOWBIT_REQUIRE(y >= 0 && y < classes, "ptq", "label {} does not match the model's output: it scores {} classes", y, classes);
  } else if (classifier) {
    fidelity_ = Fidelity::agreement;  // the fp32 model's classes are the labels
    const int64_t c = ref_logits_.shape()[1];
    for (int64_t r = 0; r < n; ++r) {
      const float* row = ref_logits_.data<float>() + r * c;
      labels_.push_back(static_cast<int32_t>(std::max_element(row, row + c) - row));
    }
  } else {
    fidelity_ = Fidelity::relative_l2;
  }
  latency_input_ = inputs_.cycled(opt_.latency_batch);
  double all = 0, layer = 0;
  for (const auto& [v, a] : plan_.graph.constants)
    if (a.type() == onnx::ElemType::f32) all += 4.0 * static_cast<double>(a.numel());
  for (const auto& l : plan_.layers) layer += 4.0 * static_cast<double>(l.weight_values);
  other_bytes_ = all - layer;
  if (opt_.cache_path.empty()) return;
  std::ifstream in(opt_.cache_path);
  bool ours = false;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) break;  // a torn last line: ignore the rest
    if (j.contains("fingerprint")) {
      ours = j["fingerprint"] == opt_.fingerprint;
      if (!ours) break;
      continue;
    }
    if (!ours || !j.contains("key")) continue;
    const std::string key = j["key"];
    if (j.contains("series")) series_cache[key] = j["series"].get<std::vector<double>>();
    else if (j.contains("latency_ms")) latency_cache[key] = j["latency_ms"];
    else eval_cache[key] = Measurement{j.value("top1", NAN), j.value("loss", NAN), j.value("sqnr_db", NAN)};
  }
  if (!ours) {
    latency_cache.clear(), eval_cache.clear(), series_cache.clear();
    std::ofstream(opt_.cache_path, std::ios::trunc) << nlohmann::json{{"fingerprint", opt_.fingerprint}}.dump() << "\n";
  }
}

void ModelOracle::append_cache(const std::string& line) {
  if (opt_.cache_path.empty()) return;
  std::ofstream out(opt_.cache_path, std::ios::app);
  out << line << "\n";
  out.flush();
  LOWBIT_REQUIRE(out.good(), "ptq", "cannot append to the cache {}", opt_.cache_path);
}

Measurement ModelOracle::evaluate(const LayerConfig& c) {
  const std::string key = config_key(c);
  Probe p{key, phase, {}, false};
  if (auto it = eval_cache.find(key); it != eval_cache.end()) {
    p.m = it->second;
    p.cached = true;
    ++cached_evaluations;
  } else {
    onnx::Session s(build_qdq(plan_, c), onnx::SessionOptions{1, opt_.threads, true});
    const onnx::Array out = run_all(s, inputs_, opt_.eval_batch);
    p.m = fidelity_ == Fidelity::relative_l2 ? score_fidelity(out, ref_logits_) : score_logits(out, labels_, ref_logits_);
    eval_cache[key] = p.m;
    ++fresh_evaluations;
    append_cache(nlohmann::json{{"key", key}, {"top1", p.m.top1}, {"loss", p.m.loss}, {"sqnr_db", p.m.sqnr_db}}.dump());
  }
  trajectory.push_back(p);
  if (progress) progress(fresh_evaluations + cached_evaluations, std::max(expected_evaluations, fresh_evaluations + cached_evaluations));
  return p.m;
}

double ModelOracle::latency_ms(const LayerConfig& c) {
  const std::string key = config_key(c);
  if (auto it = latency_cache.find(key); it != latency_cache.end()) return it->second;
  onnx::Session s(build_qdq(plan_, c), onnx::SessionOptions{1, opt_.threads, true});
  const std::vector<onnx::Array>& x = latency_input_.arrays;
  for (int i = 0; i < opt_.latency_warmup; ++i) s.run(x);
  std::vector<double> ms;
  for (int i = 0; i < opt_.latency_repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    s.run(x);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + static_cast<long>(ms.size() / 2), ms.end());
  const double med = ms[ms.size() / 2];
  latency_cache[key] = med;
  ++latency_runs;
  append_cache(nlohmann::json{{"key", key}, {"latency_ms", med}}.dump());
  return med;
}

std::vector<double> ModelOracle::latency_interleaved(const std::vector<LayerConfig>& cs) {
  // Sessions alive at once: all of them when their weights fit opt_.session_memory_bytes (a
  // session holds about the fp32 weights, packed forms included), else groups that each repeat
  // cs[0] as an anchor; a group's times are scaled by anchor(first group) / anchor(this group),
  // so load drift between groups cancels as it does within one.
  const double per_session = std::max(1.0, 2.0 * (other_bytes_ + size_bytes(LayerConfig(plan_.layers.size(), Precision::fp32))));
  const size_t fit = static_cast<size_t>(std::max(2.0, static_cast<double>(opt_.session_memory_bytes) / per_session));
  std::vector<double> out(cs.size(), 0.0);
  double anchor0 = 0;
  for (size_t g0 = 0; g0 < cs.size();) {
    std::vector<size_t> group;
    if (g0 > 0) group.push_back(0);  // the anchor
    while (g0 < cs.size() && group.size() < fit) group.push_back(g0++);
    std::vector<std::unique_ptr<onnx::Session>> ss;
    for (size_t k : group) ss.push_back(std::make_unique<onnx::Session>(build_qdq(plan_, cs[k]), onnx::SessionOptions{1, opt_.threads, true}));
    const std::vector<onnx::Array>& x = latency_input_.arrays;
    for (int i = 0; i < opt_.latency_warmup; ++i)
      for (auto& s : ss) s->run(x);
    std::vector<std::vector<double>> ms(group.size());
    for (int r = 0; r < opt_.latency_repeats; ++r)
      for (size_t k = 0; k < ss.size(); ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        ss[k]->run(x);
        ms[k].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    std::vector<double> med;
    for (auto& v : ms) {
      std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
      med.push_back(v[v.size() / 2]);
    }
    if (group[0] == 0 && anchor0 == 0) anchor0 = med[0];
    const double scale = anchor0 / med[0];
    for (size_t k = 0; k < group.size(); ++k) out[group[k]] = group[k] == 0 ? anchor0 : med[k] * scale;
    latency_runs += static_cast<int64_t>(group.size());
  }
  return out;
}

void ModelOracle::store_series(const std::string& key, const std::vector<double>& v) {
  series_cache[key] = v;
  append_cache(nlohmann::json{{"key", key}, {"series", v}}.dump());
}

double ModelOracle::size_bytes(const LayerConfig& c) const {
  double b = other_bytes_;
  for (size_t i = 0; i < c.size(); ++i) b += weight_bytes_per_value(c[i]) * static_cast<double>(plan_.layers[i].weight_values);
  return b;
}

}  // namespace lowbit::ptq
