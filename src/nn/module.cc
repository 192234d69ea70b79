// Module tree bookkeeping: registration, recursive traversal, lookup and replacement by path.
#include "lowbit/nn/module.h"

#include "lowbit/core/error.h"

namespace lowbit::nn {

Var ModuleSlot::operator()(const Var& x) const { return (*p_)->forward(x); }

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  for (const auto& [name, p] : params_) out.emplace_back(name, p);
  for (const auto& [cname, child] : children_)
    for (auto& [name, p] : child->named_parameters()) out.emplace_back(cname + "." + name, p);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [name, b] : buffers_) out.emplace_back(name, &b);
  for (auto& [cname, child] : children_)
    for (auto& [name, b] : child->named_buffers()) out.emplace_back(cname + "." + name, b);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (const auto& [cname, child] : children_) {
    out.emplace_back(cname, child);
    for (auto& [name, m] : child->named_modules()) out.emplace_back(cname + "." + name, m);
  }
  return out;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

std::shared_ptr<Module> Module::find(const std::string& path) const {
  const size_t dot = path.find('.');
  const std::string head = path.substr(0, dot);
  for (const auto& [cname, child] : children_) {
    if (cname != head) continue;
    return dot == std::string::npos ? child : child->find(path.substr(dot + 1));
  }
  throw ValueError(fmt::format("[Module::find] no submodule '{}' in {} (path '{}')", head, type(), path));
}

void Module::replace(const std::string& path, std::shared_ptr<Module> module) {
  LOWBIT_REQUIRE(module != nullptr, "Module::replace", "replacement for '{}' is null", path);
  const size_t dot = path.find('.');
  if (dot != std::string::npos) {
    find(path.substr(0, dot))->replace(path.substr(dot + 1), std::move(module));
    return;
  }
  for (auto& [cname, child] : children_) {
    if (cname != path) continue;
    module->train(training_);
    child = std::move(module);
    return;
  }
  throw ValueError(fmt::format("[Module::replace] no submodule '{}' in {}", path, type()));
}

Var& Module::parameter(const std::string& name) {
  for (auto& [n, p] : params_)
    if (n == name) return p;
  throw ValueError(fmt::format("[Module::parameter] {} has no parameter '{}'", type(), name));
}

Tensor& Module::buffer(const std::string& name) {
  for (auto& [n, b] : buffers_)
    if (n == name) return b;
  throw ValueError(fmt::format("[Module::buffer] {} has no buffer '{}'", type(), name));
}

Var& Module::register_parameter(std::string name, Tensor value) {
  params_.emplace_back(std::move(name), Var(std::move(value), true));
  return params_.back().second;
}

Var& Module::register_parameter(std::string name, Var shared) {
  LOWBIT_CHECK(shared.defined(), "parameter '{}' is undefined", name);
  params_.emplace_back(std::move(name), std::move(shared));
  return params_.back().second;
}

Tensor& Module::register_buffer(std::string name, Tensor value) {
  buffers_.emplace_back(std::move(name), std::move(value));
  return buffers_.back().second;
}

ModuleSlot Module::register_module(std::string name, std::shared_ptr<Module> module) {
  LOWBIT_CHECK(module != nullptr, "child '{}' is null", name);
  children_.emplace_back(std::move(name), std::move(module));
  return ModuleSlot(&children_.back().second);
}

uint64_t path_hash(std::string_view path) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char c : path) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  return h;
}

void init_parameters(Module& root, uint64_t seed) {
  root.reset_parameters(seed ^ path_hash(""));
  for (auto& [path, m] : root.named_modules()) m->reset_parameters(seed ^ path_hash(path));
}

}  // namespace lowbit::nn
