// Module: a named tree of layers with parameters (Vars), buffers (Tensors) and children.
// Everything is addressable by dotted path ("layer1.0.conv1.weight"), and a child can be
// replaced by path (quantized layers and PTQ swap layers in place); parents call children
// through a ModuleSlot, which follows replacements.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit/ops/var.h"

namespace lowbit::nn {

class Module;

// Stable handle to one child entry of a parent module.
class ModuleSlot {
 public:
  ModuleSlot() = default;
  explicit ModuleSlot(std::shared_ptr<Module>* p) : p_(p) {}
  Var operator()(const Var& x) const;
  Module* operator->() const { return p_->get(); }
  Module& operator*() const { return **p_; }
  const std::shared_ptr<Module>& ptr() const { return *p_; }

 private:
  std::shared_ptr<Module>* p_ = nullptr;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Var forward(const Var& x) = 0;
  virtual std::string_view type() const = 0;  // "Linear", "Conv2d", ...
  // Re-initializes this module's own parameters (not children's) from a stream of `seed`.
  virtual void reset_parameters(uint64_t seed) { (void)seed; }

  Var operator()(const Var& x) { return forward(x); }
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool training() const { return training_; }

  std::vector<std::pair<std::string, Var>> named_parameters() const;     // recursive
  std::vector<std::pair<std::string, Tensor*>> named_buffers();          // recursive
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;  // descendants
  std::vector<Var> parameters() const;
  int64_t num_parameters() const;
  std::shared_ptr<Module> find(const std::string& path) const;  // throws ValueError naming the path
  void replace(const std::string& path, std::shared_ptr<Module> module);

  // Own entries (not recursive), for layers that swap weights or grow (class-incremental heads).
  Var& parameter(const std::string& name);
  Tensor& buffer(const std::string& name);

 protected:
  Var& register_parameter(std::string name, Tensor value);
  Var& register_parameter(std::string name, Var shared);  // keeps the handle (layer swaps)
  Tensor& register_buffer(std::string name, Tensor value);
  ModuleSlot register_module(std::string name, std::shared_ptr<Module> module);

 private:
  std::deque<std::pair<std::string, Var>> params_;
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::deque<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Deterministic initialization of every module in the tree: each module's parameters are
// drawn from a Philox stream keyed by (seed, hash of its path), so adding a layer elsewhere
// does not change the others.
void init_parameters(Module& root, uint64_t seed);
uint64_t path_hash(std::string_view path);

}  // namespace lowbit::nn
