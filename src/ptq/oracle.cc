// Measured answers for mixed-precision searches (oracle.h): accuracy/loss/SQNR of a QDQ
// configuration on the evaluation subset and its median latency, both cached on disk.
#include "lowbit/ptq/oracle.h"

#include <algorithm>
#include <chrono>
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

namespace {

onnx::Array run_all(onnx::Session& s, const onnx::Array& x, int64_t batch) {
  const int64_t n = x.shape()[0];
  std::vector<onnx::Array> parts;
  for (int64_t r0 = 0; r0 < n; r0 += batch) parts.push_back(s.run(std::vector<onnx::Array>{batch_rows(x, r0, std::min(n, r0 + batch))})[0]);
  LOWBIT_REQUIRE(parts[0].type() == onnx::ElemType::f32 && parts[0].dim() == 2, "ptq",
                 "the model's first output is {} {}; expected float32 [batch, classes]", onnx::elem_name(parts[0].type()),
                 shape_str(parts[0].shape()));
  const int64_t c = parts[0].shape()[1];
  onnx::Array out = onnx::Array::empty(onnx::ElemType::f32, {n, c});
  int64_t at = 0;
  for (const auto& p : parts) {
    std::copy(p.data<float>(), p.data<float>() + p.numel(), out.data<float>() + at);
    at += p.numel();
  }
  return out;
}

}  // namespace

ModelOracle::ModelOracle(const QdqPlan& plan, onnx::Array inputs, std::vector<int32_t> labels, ModelOracleOptions opt)
    : plan_(plan), inputs_(std::move(inputs)), labels_(std::move(labels)), opt_(std::move(opt)) {
  const int64_t n = inputs_.shape()[0];
  LOWBIT_REQUIRE(n > 0 && static_cast<int64_t>(labels_.size()) == n, "ptq", "the evaluation set has {} samples but {} labels", n,
                 labels_.size());
  onnx::Session fp(plan_.graph, onnx::SessionOptions{1, opt_.threads, true});
  ref_logits_ = run_all(fp, inputs_, opt_.eval_batch);
  const int64_t classes = ref_logits_.shape()[1];
  for (int32_t y : labels_)
    LOWBIT_REQUIRE(y >= 0 && y < classes, "ptq", "label {} does not match the model's output: it scores {} classes", y, classes);
  // The latency batch: the evaluation inputs repeated up to latency_batch rows.
  onnx::Array lb = batch_rows(inputs_, 0, std::min(n, opt_.latency_batch));
  while (lb.shape()[0] < opt_.latency_batch) {
    const onnx::Array more = batch_rows(inputs_, 0, std::min(n, opt_.latency_batch - lb.shape()[0]));
    Shape s = lb.shape();
    s[0] += more.shape()[0];
    onnx::Array cat = onnx::Array::empty(onnx::ElemType::f32, s);
    std::copy(lb.data<float>(), lb.data<float>() + lb.numel(), cat.data<float>());
    std::copy(more.data<float>(), more.data<float>() + more.numel(), cat.data<float>() + lb.numel());
    lb = std::move(cat);
  }
  latency_input_ = std::move(lb);
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
    p.m = score_logits(run_all(s, inputs_, opt_.eval_batch), labels_, ref_logits_);
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
  const std::vector<onnx::Array> x{latency_input_};
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
  std::vector<std::unique_ptr<onnx::Session>> ss;
  for (const auto& c : cs) ss.push_back(std::make_unique<onnx::Session>(build_qdq(plan_, c), onnx::SessionOptions{1, opt_.threads, true}));
  const std::vector<onnx::Array> x{latency_input_};
  for (int i = 0; i < opt_.latency_warmup; ++i)
    for (auto& s : ss) s->run(x);
  std::vector<std::vector<double>> ms(cs.size());
  for (int r = 0; r < opt_.latency_repeats; ++r)
    for (size_t k = 0; k < ss.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      ss[k]->run(x);
      ms[k].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  std::vector<double> out;
  for (auto& v : ms) {
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    out.push_back(v[v.size() / 2]);
  }
  latency_runs += static_cast<int64_t>(cs.size());
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
