// lowbit CLI entry point: builds the command tree from the registry, runs it, maps errors to
// exit codes (0 ok, 1 runtime error, 2 usage error).
#include <cstdio>
#include <map>
#include <sstream>

#include "command.h"
#include "lowbit/core/error.h"
#include "lowbit/core/threads.h"

namespace lowbit::app {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}

void add_threads_option(CLI::App& cmd, int* threads) {
  cmd.add_option("--threads", *threads, "intra-op threads (default: LOWBIT_NUM_THREADS, else all cores)")
      ->check(CLI::Range(1, 4096));
  cmd.parse_complete_callback([threads] {
    if (*threads > 0) set_num_threads(*threads);
  });
}

}  // namespace lowbit::app

namespace {
std::string group_description(const std::string& group) {
  if (group == "bench") return "benchmarks: integer GEMM, training steps, ONNX models (side by side with peers)";
  return "";
}
}  // namespace

int main(int argc, char** argv) {
  lowbit::adopt_bounded_spin(argc, argv);
  using namespace lowbit::app;
  CLI::App app{"lowbit: low-precision deep learning on CPUs (integer training, class-incremental learning, ONNX inference, benchmarks)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lowbit 0.1.0");
  std::map<std::string, CLI::App*> nodes;
  for (const auto& entry : command_registry()) {
    std::istringstream words(entry.path);
    std::string word, prefix;
    CLI::App* parent = &app;
    while (words >> word) {
      prefix += (prefix.empty() ? "" : " ") + word;
      auto it = nodes.find(prefix);
      if (it == nodes.end()) {
        CLI::App* sub = parent->add_subcommand(word, prefix == entry.path ? entry.description : group_description(prefix));
        if (prefix != entry.path) sub->require_subcommand(1);
        it = nodes.emplace(prefix, sub).first;
      } else if (prefix == entry.path) {
        it->second->description(entry.description);
      }
      parent = it->second;
    }
    entry.setup(*parent);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const lowbit::Error& e) {
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "lowbit: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {  // a bug: every input error should be a lowbit::Error
    std::fprintf(stderr, "lowbit: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
