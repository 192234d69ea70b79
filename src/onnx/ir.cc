// Graph bookkeeping: value/node tables, topological order, structural validation, builder.
#include "lowbit/onnx/ir.h"

#include <algorithm>
#include <set>

#include "ops/op.h"

namespace lowbit::onnx {

const Attribute* Node::find(const std::string& key) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? nullptr : &it->second;
}

int64_t Node::attr_i(const std::string& key, int64_t dflt) const {
  const Attribute* a = find(key);
  if (!a) return dflt;
  LOWBIT_REQUIRE(a->kind == Attribute::Kind::i, describe(), "attribute '{}' must be an int", key);
  return a->i;
}

double Node::attr_f(const std::string& key, double dflt) const {
  const Attribute* a = find(key);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::i) return static_cast<double>(a->i);
  LOWBIT_REQUIRE(a->kind == Attribute::Kind::f, describe(), "attribute '{}' must be a float", key);
  return a->f;
}

std::string Node::attr_s(const std::string& key, const std::string& dflt) const {
  const Attribute* a = find(key);
  if (!a) return dflt;
  LOWBIT_REQUIRE(a->kind == Attribute::Kind::s, describe(), "attribute '{}' must be a string", key);
  return a->s;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> dflt) const {
  const Attribute* a = find(key);
  if (!a) return dflt;
  LOWBIT_REQUIRE(a->kind == Attribute::Kind::is, describe(), "attribute '{}' must be a list of ints", key);
  return a->is;
}

std::vector<double> Node::attr_floats(const std::string& key, std::vector<double> dflt) const {
  const Attribute* a = find(key);
  if (!a) return dflt;
  LOWBIT_REQUIRE(a->kind == Attribute::Kind::fs, describe(), "attribute '{}' must be a list of floats", key);
  return a->fs;
}

bool Node::has_subgraphs() const {
  return std::any_of(attrs.begin(), attrs.end(), [](const auto& kv) { return kv.second.kind == Attribute::Kind::g; });
}

std::string Node::describe() const { return fmt::format("node '{}' ({})", name, op_type); }

int Graph::add_value(const std::string& value_name, ValueType type) {
  values.push_back(Value{value_name, std::move(type), -1, {}});
  return static_cast<int>(values.size()) - 1;
}

int Graph::find_value(const std::string& value_name) const {
  for (size_t i = values.size(); i-- > 0;)
    if (values[i].name == value_name) return static_cast<int>(i);
  return -1;
}

int Graph::add_node(Node node) {
  const int id = static_cast<int>(nodes.size());
  for (int v : node.inputs)
    if (v != kNoValue) values.at(static_cast<size_t>(v)).consumers.push_back(id);
  for (int v : node.outputs)
    if (v != kNoValue) values.at(static_cast<size_t>(v)).producer = id;
  nodes.push_back(std::move(node));
  return id;
}

int Graph::sole_consumer(int v) const {
  const Value& val = values[static_cast<size_t>(v)];
  if (val.consumers.size() != 1) return -1;
  for (int o : outputs)
    if (o == v) return -1;
  const int c = val.consumers[0];
  return nodes[static_cast<size_t>(c)].dead ? -1 : c;
}

const Array* Graph::constant(int v) const {
  auto it = constants.find(v);
  return it == constants.end() ? nullptr : &it->second;
}

void Graph::relink() {
  for (Value& v : values) {
    v.producer = -1;
    v.consumers.clear();
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (nodes[n].dead) continue;
    for (int v : nodes[n].inputs)
      if (v != kNoValue) values[static_cast<size_t>(v)].consumers.push_back(static_cast<int>(n));
    for (int v : nodes[n].outputs)
      if (v != kNoValue) values[static_cast<size_t>(v)].producer = static_cast<int>(n);
  }
}

std::vector<int> Graph::topo_order() const {
  // Kahn's algorithm over live nodes; ties resolved by original index so order is stable.
  const size_t n = nodes.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> users(n);
  for (size_t i = 0; i < n; ++i) {
    if (nodes[i].dead) continue;
    for (int v : nodes[i].inputs) {
      if (v == kNoValue) continue;
      const int p = values[static_cast<size_t>(v)].producer;
      if (p >= 0 && !nodes[static_cast<size_t>(p)].dead) {
        ++pending[i];
        users[static_cast<size_t>(p)].push_back(static_cast<int>(i));
      }
    }
  }
  std::set<int> ready;
  for (size_t i = 0; i < n; ++i)
    if (!nodes[i].dead && pending[i] == 0) ready.insert(static_cast<int>(i));
  std::vector<int> order;
  while (!ready.empty()) {
    const int i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (int u : users[static_cast<size_t>(i)])
      if (--pending[static_cast<size_t>(u)] == 0) ready.insert(u);
  }
  if (order.size() != live_node_count()) {
    for (size_t i = 0; i < n; ++i)
      if (!nodes[i].dead && pending[i] > 0)
        throw ValueError(fmt::format("[onnx] graph has a cycle through {}", nodes[i].describe()));
  }
  return order;
}

size_t Graph::live_node_count() const {
  return static_cast<size_t>(std::count_if(nodes.begin(), nodes.end(), [](const Node& x) { return !x.dead; }));
}

// Every node is checked before the first failure is reported, so a model from another exporter
// shows all of its unsupported ops in one message; nodes failing the same way are grouped.
void Graph::validate() const {
  struct Problem {
    std::string first;  // the first failing node's full message
    int count = 0;
  };
  std::vector<std::pair<std::string, Problem>> problems;  // key: op and reason, in model order
  int failing = 0;
  for (const Node& node : nodes) {
    if (node.dead) continue;
    try {
      if (optimized) resolve_op(node, opset);
      else check_node(node, opset);
    } catch (const ValueError& e) {
      ++failing;
      std::string msg = e.what();
      const std::string where = node_where(node, opset) + ": ";
      const size_t at = msg.find(where);
      const std::string key = node.domain + "." + node.op_type + ": " +
                              (at == std::string::npos ? msg : msg.substr(at + where.size()));
      auto it = std::find_if(problems.begin(), problems.end(), [&](const auto& p) { return p.first == key; });
      if (it == problems.end()) problems.push_back({key, Problem{std::move(msg), 1}});
      else ++it->second.count;
    }
  }
  if (failing == 1) throw ValueError(problems[0].second.first);
  if (failing > 1) {
    std::string all = fmt::format("[onnx] {} nodes fail the check ({} distinct problems):", failing, problems.size());
    for (const auto& [key, p] : problems)
      all += fmt::format("\n  {}{}", p.first.rfind("[onnx] ", 0) == 0 ? p.first.substr(7) : p.first,
                         p.count > 1 ? fmt::format(" (and {} more node(s) like it)", p.count - 1) : "");
    throw ValueError(all);
  }
  std::vector<int> producers(values.size(), 0);
  for (const Node& node : nodes) {
    if (node.dead) continue;
    for (int v : node.outputs) {
      if (v == kNoValue) continue;
      LOWBIT_REQUIRE(v >= 0 && static_cast<size_t>(v) < values.size(), "onnx", "{} writes an unknown value", node.describe());
      LOWBIT_REQUIRE(++producers[static_cast<size_t>(v)] == 1 && !is_constant(v), "onnx",
                     "value '{}' is produced more than once (second time by {})", values[static_cast<size_t>(v)].name, node.describe());
    }
  }
  for (int v : inputs) {
    LOWBIT_REQUIRE(producers[static_cast<size_t>(v)] == 0, "onnx", "graph input '{}' is also produced by a node",
                   values[static_cast<size_t>(v)].name);
    producers[static_cast<size_t>(v)] = 1;
  }
  for (const auto& [v, arr] : constants) producers[static_cast<size_t>(v)] = 1;
  for (int v : captures) {
    if (v == kNoValue) continue;
    LOWBIT_REQUIRE(v >= 0 && static_cast<size_t>(v) < values.size() && producers[static_cast<size_t>(v)] == 0, "onnx",
                   "an outer-scope value read by the subgraph is also defined inside it");
    producers[static_cast<size_t>(v)] = 1;
  }
  for (const Node& node : nodes) {
    if (node.dead) continue;
    for (int v : node.inputs) {
      if (v == kNoValue) continue;
      LOWBIT_REQUIRE(v >= 0 && static_cast<size_t>(v) < values.size(), "onnx", "{} reads an unknown value", node.describe());
      LOWBIT_REQUIRE(producers[static_cast<size_t>(v)] > 0, "onnx",
                     "{} reads '{}', which no node, input or initializer provides", node.describe(),
                     values[static_cast<size_t>(v)].name);
    }
  }
  for (int v : outputs)
    LOWBIT_REQUIRE(producers[static_cast<size_t>(v)] > 0, "onnx", "graph output '{}' is never produced",
                   values[static_cast<size_t>(v)].name);
  (void)topo_order();  // throws on cycles
}

void Graph::remove_dead() {
  relink();
  std::vector<bool> needed(values.size(), false);
  for (int v : outputs) needed[static_cast<size_t>(v)] = true;
  const std::vector<int> order = topo_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& node = nodes[static_cast<size_t>(*it)];
    const bool used = std::any_of(node.outputs.begin(), node.outputs.end(),
                                  [&](int v) { return v != kNoValue && needed[static_cast<size_t>(v)]; });
    if (!used) {
      node.dead = true;
      continue;
    }
    for (int v : node.inputs)
      if (v != kNoValue) needed[static_cast<size_t>(v)] = true;
  }
  for (auto it = constants.begin(); it != constants.end();)
    it = needed[static_cast<size_t>(it->first)] ? std::next(it) : constants.erase(it);
  relink();
}

int GraphBuilder::input(const std::string& name, ElemType elem, const Shape& shape) {
  const int v = graph_.add_value(name, ValueType{elem, shape, true});
  graph_.inputs.push_back(v);
  return v;
}

int GraphBuilder::constant(const std::string& name, Array value) {
  const int v = graph_.add_value(name, ValueType{value.type(), value.shape(), true});
  graph_.constants[v] = std::move(value);
  return v;
}

std::vector<int> GraphBuilder::op_multi(const std::string& op_type, const std::vector<int>& inputs, Attributes attrs,
                                        int n_outputs, const std::string& name) {
  Node node;
  node.name = name.empty() ? fmt::format("{}_{}", op_type, counter_++) : name;
  node.op_type = op_type;
  node.inputs = inputs;
  node.attrs = std::move(attrs);
  for (int i = 0; i < n_outputs; ++i) node.outputs.push_back(graph_.add_value(fmt::format("{}_out{}", node.name, i)));
  std::vector<int> outs = node.outputs;
  graph_.add_node(std::move(node));
  return outs;
}

int GraphBuilder::op(const std::string& op_type, const std::vector<int>& inputs, Attributes attrs, int n_outputs,
                     const std::string& name) {
  return op_multi(op_type, inputs, std::move(attrs), n_outputs, name).front();
}

void GraphBuilder::output(int value, const std::string& rename) {
  if (!rename.empty()) graph_.values.at(static_cast<size_t>(value)).name = rename;
  graph_.outputs.push_back(value);
}

Graph GraphBuilder::finish() {
  graph_.validate();
  return std::move(graph_);
}

}  // namespace lowbit::onnx
