// The oracle a mixed-precision search asks: accuracy, loss and logit SQNR of a per-layer
// configuration on the evaluation subset, its end-to-end latency on the real kernels and its
// weight size. ModelOracle measures (QDQ graph on onnx::Session) and caches every answer in a
// JSON Lines file, so a rerun with the same model, data and options resumes; tests use fakes.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lowbit/onnx/ir.h"
#include "lowbit/ptq/input_batch.h"
#include "lowbit/ptq/quantize_model.h"

namespace lowbit::ptq {

// top1 is the accuracy the budgets and searches read: top-1 against labels, or, without labels,
// the fidelity to the fp32 model (Fidelity). loss: cross-entropy, or the relative squared error.
struct Measurement {
  double top1 = NAN, loss = NAN, sqnr_db = NAN;  // on the evaluation subset; SQNR of outputs vs fp32
};

// What Measurement::top1 measures. Without labels the fp32 model is the reference: a classifier
// output [N, C] scores top-1 agreement with fp32's classes (fp32 scores 1); any other output (BERT
// hidden states) scores 1 − ‖y − y_fp32‖₂ / ‖y_fp32‖₂ over the whole set (fp32 scores 1), so a
// budget --max-drop 2% allows a relative L2 error of 0.02 (SQNR = −20·log10 of that error).
enum class Fidelity { labels, agreement, relative_l2 };
const char* fidelity_name(Fidelity f);

// One asked configuration, in order: the trajectory of a search.
struct Probe {
  std::string key, phase;  // config_key, e.g. "sensitivity", "greedy", "dp-verify"
  Measurement m;
  bool cached = false;
};

class Oracle {
 public:
  virtual ~Oracle() = default;
  virtual size_t layers() const = 0;
  virtual Measurement evaluate(const LayerConfig& c) = 0;
  virtual double latency_ms(const LayerConfig& c) = 0;  // median, warm-up excluded, fixed threads
  virtual double size_bytes(const LayerConfig& c) const = 0;
  // Latencies of several configurations measured interleaved (round r times every config once),
  // so a change of machine load over time shifts all of them alike. Not cached (the numbers only
  // compare among themselves); pass a config twice to estimate the noise.
  virtual std::vector<double> latency_interleaved(const std::vector<LayerConfig>& cs) {
    std::vector<double> out;
    for (const auto& c : cs) out.push_back(latency_ms(c));
    return out;
  }
  // Named series of numbers kept with the cache (the per-layer latency table), so every run with
  // the same fingerprint reuses one measurement; store_series persists where the oracle can.
  std::map<std::string, std::vector<double>> series_cache;
  virtual void store_series(const std::string& key, const std::vector<double>& v) { series_cache[key] = v; }
  // Bookkeeping shared by all oracles: the phase probes are attributed to, and the trajectory.
  std::string phase = "search";
  std::vector<Probe> trajectory;
  int64_t fresh_evaluations = 0, cached_evaluations = 0, latency_runs = 0;
  std::map<std::string, double> latency_cache;                       // config_key -> ms
  std::map<std::string, Measurement> eval_cache;                      // config_key -> measurement
  std::function<void(int64_t done, int64_t expected)> progress;       // may be empty
  int64_t expected_evaluations = 0;
};

struct ModelOracleOptions {
  int threads = 1;                 // intra-op threads of every session (fixed: latencies compare)
  int64_t eval_batch = 100;
  int64_t latency_batch = 64;
  int latency_warmup = 2, latency_repeats = 7;
  int64_t session_memory_bytes = int64_t{3} << 30;  // sessions alive at once in latency_interleaved
  std::string cache_path;          // "" = no disk cache
  std::string fingerprint;         // model + data + options; a cache with another one is ignored
};

class ModelOracle : public Oracle {
 public:
  // inputs: every graph input, N samples; labels: N class ids (< the model's classes), or empty
  // to measure fidelity to the fp32 model (Fidelity).
  ModelOracle(const QdqPlan& plan, InputBatch inputs, std::vector<int32_t> labels, ModelOracleOptions opt);
  Fidelity fidelity() const { return fidelity_; }
  const onnx::Array& reference_outputs() const { return ref_logits_; }  // fp32, first output, N first
  size_t layers() const override { return plan_.layers.size(); }
  Measurement evaluate(const LayerConfig& c) override;
  double latency_ms(const LayerConfig& c) override;
  double size_bytes(const LayerConfig& c) const override;
  std::vector<double> latency_interleaved(const std::vector<LayerConfig>& cs) override;
  void store_series(const std::string& key, const std::vector<double>& v) override;
  onnx::Graph graph(const LayerConfig& c) const { return build_qdq(plan_, c); }
  const InputBatch& inputs() const { return inputs_; }
  const std::vector<int32_t>& labels() const { return labels_; }

 private:
  void append_cache(const std::string& line);
  const QdqPlan& plan_;
  InputBatch inputs_, latency_input_;
  onnx::Array ref_logits_;
  Fidelity fidelity_ = Fidelity::labels;
  std::vector<int32_t> labels_;
  ModelOracleOptions opt_;
  double other_bytes_ = 0;  // weights of everything that is not a layer's weight (fp32)
};

// Softmax cross-entropy (mean), top-1 and SQNR of `logits` [N, C] (ref: fp32 logits, may be empty).
Measurement score_logits(const onnx::Array& logits, const std::vector<int32_t>& labels, const onnx::Array& ref);
// Fidelity::relative_l2 of outputs against the fp32 reference (same element count).
Measurement score_fidelity(const onnx::Array& out, const onnx::Array& ref);

// A stable 64-bit hash (FNV-1a) of bytes, hex; for cache fingerprints.
std::string fnv1a_hex(const std::string& bytes);

}  // namespace lowbit::ptq
